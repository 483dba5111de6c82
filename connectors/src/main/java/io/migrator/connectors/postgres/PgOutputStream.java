package io.migrator.connectors.postgres;

import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.ChangeStream;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WAL as a change stream, read straight from the migration's slot with pgoutput (protocol 1; 2 on PostgreSQL 14+, which
 * streams large transactions before their commit into {@link PgOutputSpool}) over pgjdbc's
 * replication API. Values stay the walsender's output text — the session pins TimeZone, DateStyle, IntervalStyle,
 * extra_float_digits and bytea_output so that text is unambiguous — and go to the target cast to each column's type
 * ({@link PostgresChangeWriter}); bytea arrives as bytes.
 *
 * <p>Positions keep the form the Debezium-based stream stored, so a migration checkpointed by it resumes here:
 * {@code lsn_commit} is the end of the last transaction whose changes are all on the target (where the slot is confirmed
 * and where a restart asks the server to begin), and a position inside a transaction adds its {@code txId} and the
 * ordinal {@code seq} of its last change (a Debezium position has the change's {@code lsn} instead): the server sends
 * that transaction again whole and the changes the target already holds are skipped ({@link PgOutputTransactions}
 * makes the messages into batches and positions). This class holds the connection: it reads, answers keepalives,
 * confirms to the slot only a transaction end the target committed ({@link #applied}), writes the heartbeat and tells
 * a busy walsender from a broken connection.
 */
final class PgOutputStream implements ChangeStream {
    private static final Logger LOG = LoggerFactory.getLogger(PgOutputStream.class);

    private final Plan plan;
    private final Endpoint endpoint;
    private final List<TableDef> tables;
    private final SourcePosition from;
    private final String slot;
    private final String publication;
    private final PostgresSource source;
    private final ConcurrentLinkedQueue<SourcePosition> appliedPositions = new ConcurrentLinkedQueue<>();
    /**
     * Messages read from the connection at most under one hold of {@link #wire}, and bytes: a burst ends after the message
     * that passes 1 MB, so rows with large values are not held many at a time.
     */
    private static final int BURST = 256;
    private static final long BURST_BYTES = 1 << 20;

    private volatile boolean beating;
    /** PostgreSQL 14+: the heartbeat is a logical decoding message, and the stream asks pgoutput for messages. */
    private volatile boolean messages;
    private volatile boolean running;
    private volatile boolean stop;
    private volatile Throwable failure;
    private Thread thread;
    /** Held by whoever talks on the replication connection: the stream's thread, or {@link #keepAlive} while it waits in a handler. */
    private final java.util.concurrent.locks.ReentrantLock wire = new java.util.concurrent.locks.ReentrantLock();
    private volatile PGReplicationStream live;
    private java.util.concurrent.ScheduledExecutorService timers;
    private Beat beat;

    /** Where the server is asked to begin: the end of the last transaction the target holds whole. */
    private final long resumeCommit;

    PgOutputStream(Plan plan, List<TableDef> tables, SourcePosition from, String slot, String publication, PostgresSource source) {
        this.plan = plan;
        this.endpoint = plan.source();
        this.tables = tables;
        this.from = from;
        this.slot = slot;
        this.publication = publication;
        this.source = source;
        this.resumeCommit = PgOutputTransactions.resumeCommit(from);
    }

    @Override
    public boolean beats() {
        return beating;
    }

    /** When the walsender last sent a message (a heartbeat message included): a connection that delivers is not stalled. */
    private volatile long lastData = System.nanoTime();
    private volatile long busyCheckedAt = System.nanoTime() - 10_000_000_000L;
    private volatile boolean busy;

    /**
     * Silent for network.stallTimeout: stalled unless the source shows this stream's walsender at work. A walsender
     * replaying a large transaction at its commit sends nothing until it is done (minutes with millions of rows), and reads
     * this worker's standby status only every wal_sender_timeout/2 meanwhile, so neither silence nor an old reply_time
     * tells it from a dead connection; reconnecting would only start the decoding again, for ever. What tells them apart
     * is what the walsender waits for: at work it waits for nothing or for its own reads (WALRead, ReorderBufferRead, a
     * lock); with nothing to send it waits for WAL, and with a cut or half-open connection it waits to write
     * (WalSenderWriteData) or for the client. Three samples 100 ms apart; at work in any of them is busy. Asked at most
     * every 5 s.
     */
    @Override
    public boolean stalled() {
        long now = System.nanoTime();
        if (now - lastData < 5_000_000_000L) {
            // messages arrive (on 14+ the heartbeat is one) though no batch goes: a transaction streaming ahead of its commit
            // holds the position, and the connection is alive
            return false;
        }
        if (now - busyCheckedAt < 5_000_000_000L) {
            return !busy;
        }
        busyCheckedAt = now;
        String sql = "SELECT coalesce(a.wait_event, '') FROM pg_replication_slots s JOIN pg_stat_activity a ON a.pid = s.active_pid "
                + "WHERE s.slot_name = ?";
        boolean working = false;
        String seen = "no walsender";
        try (java.sql.Connection c = source.catalog().getConnection(); java.sql.PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, slot);
            for (int sample = 0; sample < 3 && !working; sample++) {
                if (sample > 0) {
                    Thread.sleep(100);
                }
                try (java.sql.ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        seen = rs.getString(1);
                        working = walsenderAtWork(seen);
                    }
                }
            }
        } catch (java.sql.SQLException | RuntimeException e) {
            LOG.debug("could not read the walsender's state: {}", e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (working && !busy) {
            LOG.info("the WAL stream has delivered nothing for a while, and the source's walsender is at work (waiting for {}): "
                    + "it is decoding a large transaction; waiting for it", seen.isEmpty() ? "nothing" : seen);
        } else if (!working) {
            LOG.debug("the source's walsender is not at work ({})", seen);
        }
        busy = working;
        return !working;
    }

    /** A walsender's wait event (empty when it waits for nothing) that shows it decoding rather than idle or blocked on the client. */
    static boolean walsenderAtWork(String waitEvent) {
        return switch (waitEvent) {
            case "WalSenderWaitForWAL", "WalSenderWriteData", "WalSenderMain", "ClientRead", "ClientWrite" -> false;
            default -> true;
        };
    }

    @Override
    public Throwable failure() {
        return failure;
    }

    @Override
    public boolean running() {
        return running;
    }

    @Override
    public void applied(SourcePosition position) {
        appliedPositions.add(position);
    }

    @Override
    public void start(Handler handler) {
        try (Connection c = PostgresConnector.connect(endpoint, endpoint.database(), java.time.Duration.ofSeconds(10))) {
            messages = PostgresHeartbeat.messages(c);
            beating = messages || PostgresHeartbeat.exists(c);
        } catch (SQLException e) {
            throw PostgresErrors.translate("connecting to the source for the change stream", e);
        }
        running = true;
        thread = new Thread(() -> run(handler), "wal-stream");
        thread.setDaemon(true);
        thread.start();
        timers = java.util.concurrent.Executors.newScheduledThreadPool(2, r -> {
            Thread t = new Thread(r, "wal-timers");
            t.setDaemon(true);
            return t;
        });
        timers.scheduleWithFixedDelay(this::keepAlive, 1, 1, TimeUnit.SECONDS);
        if (beating) {
            beat = new Beat();
            timers.scheduleWithFixedDelay(beat, 1, 1, TimeUnit.SECONDS);
        }
        LOG.info("WAL stream started from {} (slot {}, publication {})", PostgresPosition.text(PostgresPosition.reach(from)), slot, publication);
    }

    /**
     * While the stream's thread waits for the worker to take a batch (a slow or unreachable target, a pause), nothing reads
     * the connection and pgjdbc sends no standby status: the walsender would end the connection after wal_sender_timeout.
     * Every second a status goes out for it, unless the stream's thread is using the connection right then.
     */
    private void keepAlive() {
        if (!wire.tryLock()) {
            return;
        }
        try {
            PGReplicationStream s = live;
            if (s != null && !s.isClosed()) {
                s.forceUpdateStatus();
            }
        } catch (SQLException | RuntimeException e) {
            LOG.debug("standby status not sent: {}", e.getMessage());
        } finally {
            wire.unlock();
        }
    }

    /**
     * Writes the heartbeat every second on a connection of its own (a logical decoding message on 14+, the heartbeat row
     * before), so lag stays true and the slot advances on idle tables.
     */
    private final class Beat implements Runnable {
        private volatile Connection connection;

        @Override
        public void run() {
            if (stop) {
                return;
            }
            try {
                if (connection == null || connection.isClosed()) {
                    connection = PostgresConnector.connect(endpoint, endpoint.database(), java.time.Duration.ofSeconds(10));
                    connection.setAutoCommit(true);
                }
                try (Statement st = connection.createStatement()) {
                    st.setQueryTimeout(10);
                    st.execute(messages ? PostgresHeartbeat.messageQuery() : PostgresHeartbeat.query(plan.name()));
                }
            } catch (SQLException e) {
                LOG.debug("heartbeat not written: {}", e.getMessage());
                close(connection);
                connection = null;
            }
        }

        void close(Connection c) {
            if (c != null) {
                try {
                    c.close();
                } catch (SQLException ignored) {
                    // it broke; the next beat connects again
                }
            }
        }
    }

    private void run(Handler handler) {
        Connection connection = null;
        PGReplicationStream stream = null;
        PgOutputTransactions transactions = new PgOutputTransactions(tables, from, slot, source, plan.name());
        try {
            connection = connect();
            // PostgreSQL 14 on streams a transaction past its logical_decoding_work_mem while it is still in progress
            // (protocol 2) instead of spilling it to its own disk until the commit: kept here (PgOutputSpool) until then
            // (-Dmigrator.pgoutput.streaming=off keeps protocol 1: the walsender then decodes a large transaction in silence)
            boolean streaming = serverVersion(connection) >= 140000 && !"off".equals(System.getProperty("migrator.pgoutput.streaming"));
            var builder = connection.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                    .withSlotName(slot)
                    .withStartPosition(LogSequenceNumber.valueOf(resumeCommit))
                    .withSlotOption("proto_version", streaming ? 2 : 1)
                    .withSlotOption("publication_names", PostgresDialect.quote(publication));
            if (streaming) {
                builder = builder.withSlotOption("streaming", "on");
            }
            if (messages) {
                builder = builder.withSlotOption("messages", "true");
            }
            stream = builder
                    .withStatusInterval(1, TimeUnit.SECONDS)
                    // pgjdbc would otherwise confirm a keepalive's LSN once the flush position reaches the start of the last
                    // message: inside a large transaction that holds as soon as a heartbeat committed meanwhile was confirmed,
                    // and the slot passed the transaction's end while half of it was on the target; and a slot confirmed past
                    // the target's checkpoint refuses the resume (PgOutputTransactions#idleTo moves the checkpoint first)
                    .withAutomaticFlush(false)
                    .start();
            live = stream;
            long reported = 0;
            int idle = 0;
            ByteBuffer[] burst = new ByteBuffer[BURST];
            long[] lsns = new long[BURST];
            while (!stop) {
                int read = 0;
                long server = 0;
                // what the connection holds is read under one hold of the wire (not one per message), and handled after it:
                // handling may wait for the applier, and meanwhile keepAlive must be able to answer the walsender
                wire.lock();
                try {
                    reported = confirm(stream, reported);
                    ByteBuffer data;
                    long bytes = 0;
                    while (read < BURST && bytes < BURST_BYTES && (data = stream.readPending()) != null) {
                        bytes += data.remaining();
                        burst[read] = data;
                        lsns[read++] = stream.getLastReceiveLSN().asLong();
                    }
                    if (read == 0) {
                        server = stream.getLastReceiveLSN().asLong(); // a keepalive's, when one came last
                    }
                } finally {
                    wire.unlock();
                }
                if (read == 0) {
                    if (transactions.idleTo(handler, server)) {
                        continue;
                    }
                    if (transactions.hasPending() && (!transactions.inTransaction() || ++idle > 3)) {
                        transactions.flush(handler); // a transaction's end, or a transaction whose rest is slow to come
                        idle = 0;
                    } else {
                        Thread.sleep(transactions.hasPending() ? 1 : 5);
                    }
                    continue;
                }
                idle = 0;
                lastData = System.nanoTime();
                for (int i = 0; i < read; i++) {
                    ByteBuffer data = burst[i];
                    burst[i] = null;
                    transactions.receive(handler, data, lsns[i]);
                }
            }
        } catch (ChangeStream.Stopping stopping) {
            // the worker stops: the batch was not taken, the next run replays it from the checkpoint
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (MigratorException e) {
            failure = e;
            LOG.warn("WAL stream stopped: {}", e.getMessage());
        } catch (SQLException | RuntimeException e) {
            if (!stop) {
                failure = io.migrator.connectors.jdbc.StreamEnds.stopped(ErrorCode.CANNOT_CONNECT, "the WAL stream stopped: "
                        + e.getMessage(), "check that the source is reachable and that the replication slot " + slot
                        + " still exists (SELECT * FROM pg_replication_slots); `migrator run` again resumes from the last checkpoint", e);
                LOG.warn("WAL stream stopped: {}", e.getMessage());
            }
        } finally {
            transactions.close();
            running = false;
            live = null;
            wire.lock();
            try {
                closeQuietly(stream, connection);
            } finally {
                wire.unlock();
            }
        }
    }

    private static int serverVersion(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); java.sql.ResultSet rs = st.executeQuery("SHOW server_version_num")) {
            rs.next();
            return Integer.parseInt(rs.getString(1).trim());
        }
    }

    private Connection connect() throws SQLException {
        return replicationSession(endpoint);
    }

    /** The stream's replication connection, its session's output settings pinned. */
    static Connection replicationSession(Endpoint endpoint) throws SQLException {
        Connection c = PostgresCopy.replicationConnection(endpoint, endpoint.database(), "migrator-stream");
        try (Statement st = c.createStatement()) {
            // the walsender writes values with its own session's settings: these make the text mean one thing wherever it is read
            st.execute("SET TimeZone = 'UTC'");
            st.execute("SET DateStyle = 'ISO, YMD'");
            st.execute("SET IntervalStyle = 'postgres'");
            st.execute("SET extra_float_digits = 3");
            st.execute("SET bytea_output = 'hex'");
            st.execute(PostgresPools.MONETARY); // money as the applier's sessions read it, whatever either server's locale
        } catch (SQLException e) {
            c.close();
            throw e;
        }
        return c;
    }

    private void closeQuietly(PGReplicationStream stream, Connection connection) {
        try {
            if (stream != null && !stream.isClosed()) {
                stream.close();
            }
        } catch (SQLException | RuntimeException e) {
            LOG.debug("closing the replication stream", e);
        }
        try {
            if (connection != null) {
                connection.close();
            }
        } catch (SQLException e) {
            LOG.debug("closing the replication connection", e);
        }
    }

    /** Confirms to the slot the end of the last transaction the target committed all of; never further. */
    private long confirm(PGReplicationStream stream, long reported) {
        long flush = reported;
        SourcePosition done;
        while ((done = appliedPositions.poll()) != null) {
            long end = PgOutputTransactions.resumeCommit(done);
            flush = Math.max(flush, end);
        }
        if (flush > reported) {
            LogSequenceNumber lsn = LogSequenceNumber.valueOf(flush);
            stream.setFlushedLSN(lsn);
            stream.setAppliedLSN(lsn);
        }
        return flush;
    }

    /**
     * Stops reading and waits up to 10 s for the stream's thread. A connection that hangs (half-open) cannot end in time: it
     * is left to end by itself, so a reconnect is not held up.
     */
    @Override
    public void close() {
        stop = true;
        if (timers != null) {
            timers.shutdownNow();
            try {
                timers.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (beat != null) {
                beat.close(beat.connection);
            }
        }
        Thread t = thread;
        if (t == null || t == Thread.currentThread()) {
            return;
        }
        try {
            t.join(10_000);
            if (t.isAlive()) {
                t.interrupt();
                t.join(2_000);
                if (t.isAlive()) {
                    LOG.warn("the WAL stream did not stop within 10 s (its connection hangs): left to end by itself");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
