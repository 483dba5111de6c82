package io.migrator.connectors.postgres;

import io.migrator.core.change.ChangeBatch;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.ChangeStream;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * that transaction again whole and the changes the target already holds are skipped. Batches hold at most
 * {@value #MAX_BATCH} changes, so a transaction of any size streams in bounded memory; the slot is confirmed only up to
 * a transaction end the target committed ({@link #applied}).
 */
final class PgOutputStream implements ChangeStream {
    private static final Logger LOG = LoggerFactory.getLogger(PgOutputStream.class);
    /** Changes per batch: three batches in flight cover the applier's commit, and a large transaction is cut at this size. */
    static final int MAX_BATCH = 2048;
    /** How the statements this stream makes of a source TRUNCATE begin ({@link PostgresColumnJudge}). */
    static final String TRUNCATE = "TRUNCATE TABLE ";
    /**
     * How the statements begin that describe a plan table's columns as the walsender sends them ({@link PostgresColumnJudge}
     * adds on the target what the source added), made before the first change of the table in a session and after every
     * change of its shape.
     */
    static final String RELATION = "-- pgoutput relation ";
    private static final int BYTEA = 17;

    private final Plan plan;
    private final Endpoint endpoint;
    private final Map<TableId, TableDef> tables = new HashMap<>();
    /** Relations whose columns went to the target's judge since their last Relation message (this session). */
    private final java.util.Set<Integer> described = new java.util.HashSet<>();
    private final SourcePosition from;
    private final String slot;
    private final String publication;
    private final PostgresSource source;
    private final ConcurrentLinkedQueue<SourcePosition> appliedPositions = new ConcurrentLinkedQueue<>();
    private final Map<Integer, Rel> relations = new HashMap<>();

    private volatile boolean beating;
    private volatile boolean running;
    private volatile boolean stop;
    private volatile Throwable failure;
    private Thread thread;
    /** Held by whoever talks on the replication connection: the stream's thread, or {@link #keepAlive} while it waits in a handler. */
    private final java.util.concurrent.locks.ReentrantLock wire = new java.util.concurrent.locks.ReentrantLock();
    private volatile PGReplicationStream live;
    private java.util.concurrent.ScheduledExecutorService timers;
    private Beat beat;

    // where the stream resumes (from the stored position)
    private final long resumeCommit;
    private final long resumeXid;
    private final long resumeSeq;
    private final long resumeLsn;

    // the transaction being read (stream thread only)
    private long xid = -1;
    private long txMillis;
    /** Where the transaction being read commits (its Begin says): the slot may be confirmed up to there and still send it again. */
    private long txFinal;
    private long seq;
    private boolean skipping;
    private long lastCommitEnd;
    private final List<RowChange> pending = new ArrayList<>();
    /** Where the pending batch ends, kept as numbers and made a position only when the batch goes (not once per change). */
    private boolean positionPending;
    private long pendingLsn;
    private long pendingTx;
    private long pendingSeq;
    private long pendingCommit;
    private long pendingFinal;
    /** Protocol 2 (PostgreSQL 14+): transactions in progress stream ahead of their commit, each kept in a spool until then. */
    private boolean streaming;
    private final Map<Long, PgOutputSpool> spools = new HashMap<>();
    /** The spool of the stream block being read; null outside blocks. */
    private PgOutputSpool block;
    private java.nio.file.Path spoolDirectory;
    /** Open batches of the transaction being read went out (a target transaction holds them until a closed batch), the last one's position. */
    private boolean partsOpen;
    private SourcePosition lastPart;
    private long pendingMillis;

    /** A relation as the walsender described it, and what migrator makes of it. */
    private record Rel(TableId id, PgOutput.Relation relation, TableDef def, boolean heartbeat, String[] names, boolean[] bytea, int[] key) {
    }

    PgOutputStream(Plan plan, List<TableDef> tables, SourcePosition from, String slot, String publication, PostgresSource source) {
        this.plan = plan;
        this.endpoint = plan.source();
        for (TableDef t : tables) {
            this.tables.put(t.id(), t);
        }
        this.from = from;
        this.slot = slot;
        this.publication = publication;
        this.source = source;
        Map<String, Object> offset = PostgresPosition.offset(from);
        long commit = number(offset.get("lsn_commit"), 0);
        boolean start = PostgresPosition.isStart(from);
        this.resumeCommit = start ? number(offset.get("lsn"), 0) : commit;
        this.resumeXid = number(offset.get("txId"), -1);
        this.resumeSeq = number(offset.get("seq"), -1);
        this.resumeLsn = number(offset.get("lsn"), 0);
        this.lastCommitEnd = resumeCommit;
    }

    private static long number(Object value, long otherwise) {
        return value instanceof Number n ? n.longValue() : otherwise;
    }

    @Override
    public boolean beats() {
        return beating;
    }

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
            beating = PostgresHeartbeat.exists(c);
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

    /** Writes the heartbeat row every second on a connection of its own, so lag stays true and the slot advances on idle tables. */
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
                    st.execute(PostgresHeartbeat.query(plan.name()));
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
        try {
            connection = connect();
            // PostgreSQL 14 on streams a transaction past its logical_decoding_work_mem while it is still in progress
            // (protocol 2) instead of spilling it to its own disk until the commit: kept here (PgOutputSpool) until then
            // (-Dmigrator.pgoutput.streaming=off keeps protocol 1: the walsender then decodes a large transaction in silence)
            streaming = serverVersion(connection) >= 140000 && !"off".equals(System.getProperty("migrator.pgoutput.streaming"));
            var builder = connection.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                    .withSlotName(slot)
                    .withStartPosition(LogSequenceNumber.valueOf(resumeCommit))
                    .withSlotOption("proto_version", streaming ? 2 : 1)
                    .withSlotOption("publication_names", PostgresDialect.quote(publication));
            if (streaming) {
                builder = builder.withSlotOption("streaming", "on");
            }
            stream = builder
                    .withStatusInterval(1, TimeUnit.SECONDS)
                    // pgjdbc would otherwise confirm a keepalive's LSN once the flush position reaches the start of the last
                    // message: inside a large transaction that holds as soon as a heartbeat committed meanwhile was confirmed,
                    // and the slot passed the transaction's end while half of it was on the target (see confirmIdle)
                    .withAutomaticFlush(false)
                    .start();
            live = stream;
            long reported = 0;
            int idle = 0;
            while (!stop) {
                ByteBuffer data;
                long lsn = 0;
                wire.lock();
                try {
                    reported = confirm(stream, reported);
                    data = stream.readPending();
                    if (data != null) {
                        lsn = stream.getLastReceiveLSN().asLong();
                    } else {
                        reported = confirmIdle(stream, reported);
                    }
                } finally {
                    wire.unlock();
                }
                if (data == null) {
                    if (positionPending && (xid < 0 || ++idle > 3)) {
                        emit(handler); // a transaction's end, or a transaction whose rest is slow to come: what is here goes
                        idle = 0;
                    } else {
                        Thread.sleep(positionPending ? 1 : 5);
                    }
                    continue;
                }
                idle = 0;
                receive(handler, data, lsn);
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
            for (PgOutputSpool spool : spools.values()) {
                spool.close();
            }
            spools.clear();
            PgOutputSpool.deleteDirectory(spoolDirectory);
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

    /**
     * One message from the walsender. Inside a stream block (protocol 2) a message is spooled to its transaction's file as
     * it came; its Stream Commit replays them as a transaction sent whole (Begin, the changes, Commit), so positions,
     * batches and the target transaction are the same as for one sent at its commit; its Stream Abort drops them.
     */
    private void receive(Handler handler, ByteBuffer data, long lsn) throws InterruptedException {
        if (block != null) {
            if (data.get(data.position()) == 'E') {
                block = null;
                return;
            }
            long subxid = PgOutput.streamedXid(data);
            if (subxid < 0) {
                throw new IllegalStateException("pgoutput sent a message of kind '" + (char) data.get(data.position())
                        + "' inside a stream block");
            }
            block.add(subxid, lsn, data);
            return;
        }
        PgOutput.Message message = PgOutput.read(data);
        if (message instanceof PgOutput.StreamStart start) {
            if (spoolDirectory == null) {
                spoolDirectory = PgOutputSpool.directory(slot);
            }
            block = spools.computeIfAbsent(start.xid(), x -> new PgOutputSpool(spoolDirectory, x));
        } else if (message instanceof PgOutput.StreamAbort abort) {
            PgOutputSpool spool = spools.get(abort.xid());
            if (spool == null) {
                return;
            }
            if (abort.subxid() == abort.xid()) {
                spools.remove(abort.xid()).close();
            } else {
                spool.abort(abort.subxid());
            }
        } else if (message instanceof PgOutput.StreamCommit commit) {
            PgOutputSpool spool = spools.remove(commit.xid());
            if (spool == null) {
                throw new IllegalStateException("pgoutput committed streamed transaction " + commit.xid() + " without streaming it");
            }
            try (spool; PgOutputSpool.Reader messages = spool.reader()) {
                LOG.debug("transaction {} committed after streaming {} messages ({} bytes) ahead of its commit", commit.xid(),
                        spool.messages(), spool.bytes());
                handle(handler, new PgOutput.Begin(commit.commitLsn(), commit.commitMillis(), commit.xid()), commit.commitLsn());
                while (messages.next()) {
                    handle(handler, PgOutput.read(messages.message(), true), messages.lsn());
                }
                handle(handler, new PgOutput.Commit(commit.commitLsn(), commit.endLsn(), commit.commitMillis()), commit.endLsn());
            }
        } else {
            handle(handler, message, lsn);
        }
    }

    private Connection connect() throws SQLException {
        Connection c = PostgresCopy.replicationConnection(endpoint, endpoint.database(), "migrator-stream");
        try (Statement st = c.createStatement()) {
            // the walsender writes values with its own session's settings: these make the text mean one thing wherever it is read
            st.execute("SET TimeZone = 'UTC'");
            st.execute("SET DateStyle = 'ISO, YMD'");
            st.execute("SET IntervalStyle = 'postgres'");
            st.execute("SET extra_float_digits = 3");
            st.execute("SET bytea_output = 'hex'");
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
            Map<String, Object> offset = PostgresPosition.offset(done);
            long end = PostgresPosition.isStart(done) ? number(offset.get("lsn"), 0) : number(offset.get("lsn_commit"), 0);
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
     * Between transactions, with every transaction seen applied and nothing read left unhandled, the server's keepalive
     * position is confirmed: all the transactions that ended before it were sent, so the slot keeps no WAL for tables the
     * plan does not hold (or for a source without the heartbeat table). Never inside a transaction, whatever its LSNs.
     */
    private long confirmIdle(PGReplicationStream stream, long reported) {
        if (xid >= 0 || positionPending || skipping || reported < lastCommitEnd || !spools.isEmpty()) {
            return reported;
        }
        long server = stream.getLastReceiveLSN().asLong();
        if (server <= reported) {
            return reported;
        }
        LogSequenceNumber lsn = LogSequenceNumber.valueOf(server);
        stream.setFlushedLSN(lsn);
        stream.setAppliedLSN(lsn);
        return server;
    }

    private void handle(Handler handler, PgOutput.Message message, long lsn) throws InterruptedException {
        if (message instanceof PgOutput.Begin b) {
            xid = b.xid();
            txMillis = b.commitMillis();
            txFinal = b.finalLsn();
            seq = 0;
            skipping = resumeCommit > 0 && b.finalLsn() < resumeCommit; // ended before the checkpoint: the target has it all
        } else if (message instanceof PgOutput.Commit c) {
            xid = -1;
            lastCommitEnd = c.endLsn();
            if (skipping) {
                skipping = false;
                return;
            }
            pendingAt(c.endLsn(), -1, 0);
            pendingMillis = Math.max(pendingMillis, c.commitMillis());
            if (pending.size() >= MAX_BATCH) {
                emit(handler);
            }
        } else if (message instanceof PgOutput.Relation r) {
            relations.put(r.id(), relation(r));
            described.remove(r.id()); // its columns are judged again before its next change
        } else if (message instanceof PgOutput.Insert i) {
            change(handler, lsn, i.relation(), null, i.values());
        } else if (message instanceof PgOutput.Update u) {
            change(handler, lsn, u.relation(), u.old(), u.values());
        } else if (message instanceof PgOutput.Delete d) {
            change(handler, lsn, d.relation(), d.old(), null);
        } else if (message instanceof PgOutput.Truncate t) {
            truncate(handler, lsn, t);
        } else if (message instanceof PgOutput.Origin o) {
            LOG.debug("transaction {} replayed from origin {}", xid, o.name());
        }
        // Type and logical decoding messages carry no rows; values are text the target parses with the column's own type
    }

    /** Whether the change with this ordinal in the current transaction is already on the target (a resume inside it). */
    private boolean alreadyApplied(long lsn) {
        if (skipping) {
            return true;
        }
        if (xid != resumeXid || resumeXid < 0) {
            return false;
        }
        // a Debezium position names the last applied change by its LSN, which several changes share (a multi-row insert is one
        // WAL record): those at that LSN are applied again (full images: the same result), none is skipped unapplied
        return resumeSeq >= 0 ? seq <= resumeSeq : lsn < resumeLsn;
    }

    private void change(Handler handler, long lsn, int relationId, Object[] old, Object[] values) throws InterruptedException {
        seq++;
        if (alreadyApplied(lsn)) {
            return;
        }
        Rel rel = relations.get(relationId);
        if (rel == null) {
            throw new IllegalStateException("pgoutput sent a change of relation " + relationId + " before describing it");
        }
        if (rel.def() == null) {
            return; // the heartbeat, or a table the plan does not hold
        }
        if (described.add(relationId)) {
            describe(handler, lsn, rel);
        }
        if (values == null) {
            pending.add(new RowChange.Delete(key(rel, old)));
        } else {
            RowKey key = key(rel, values);
            if (old != null) {
                RowKey before = key(rel, old);
                if (!before.equals(key)) {
                    pending.add(new RowChange.Delete(before)); // a key change: the old row goes, the new one comes
                    Map<String, Object> row = row(rel, values);
                    if (RowChange.partial(row)) {
                        // unchanged TOAST values are not sent and the row does not exist under its new key: read it from the source
                        // (a later state, which the stream's following changes bring back in line)
                        source.awaitVisible(xid); // or the read could miss this very transaction's row
                        pending.add(source.readRow(rel.def(), key.values()));
                    } else {
                        pending.add(new RowChange.Upsert(key, row));
                    }
                    afterChange(handler, lsn);
                    return;
                }
            }
            pending.add(new RowChange.Upsert(key, row(rel, values)));
        }
        afterChange(handler, lsn);
    }

    /**
     * Before the first change of a plan table in a session, and the first after its shape changed: the rows before it go,
     * then its columns as a statement of their own (the target adds what the source added), at the position just before
     * this change, so a restart that stops after the statement applies this change and none before it again.
     */
    private void describe(Handler handler, long lsn, Rel rel) throws InterruptedException {
        emit(handler, false); // the rows before it go first, and a target transaction the transaction's open batches hold commits
        String statement = PostgresColumnJudge.relationStatement(rel.id(), java.util.Arrays.asList(rel.names()));
        handler.onBatch(new ChangeBatch(List.of(), position(lsn, xid, seq - 1, lastCommitEnd, txFinal), txMillis, List.of(statement)));
        positionPending = false;
        pendingMillis = 0;
    }

    private void afterChange(Handler handler, long lsn) throws InterruptedException {
        pendingAt(lsn, xid, seq);
        pendingMillis = Math.max(pendingMillis, txMillis);
        if (pending.size() >= MAX_BATCH) {
            emit(handler);
        }
    }

    private void truncate(Handler handler, long lsn, PgOutput.Truncate t) throws InterruptedException {
        seq++;
        if (alreadyApplied(lsn)) {
            return;
        }
        List<String> names = new ArrayList<>();
        for (int id : t.relations()) {
            Rel rel = relations.get(id);
            if (rel != null && rel.def() != null) {
                names.add(PostgresDialect.quote(rel.id()));
            }
        }
        if (names.isEmpty()) {
            return;
        }
        // one statement for the tables the source truncated together (a table referencing another is in the same statement,
        // or the source's own TRUNCATE would have failed), with the source's options
        List<String> statements = List.of(TRUNCATE + String.join(", ", names) + (t.restartIdentity() ? " RESTART IDENTITY" : "")
                + (t.cascade() ? " CASCADE" : ""));
        emit(handler, false); // the rows before the TRUNCATE go first (and commit what open batches of the transaction wrote)
        SourcePosition position = position(lsn, xid, seq, lastCommitEnd, txFinal);
        handler.onBatch(new ChangeBatch(List.of(), position, Math.max(pendingMillis, txMillis), statements));
        positionPending = false;
        pendingMillis = 0;
    }

    private void pendingAt(long lsn, long tx, long ordinal) {
        positionPending = true;
        pendingLsn = lsn;
        pendingTx = tx;
        pendingSeq = ordinal;
        pendingCommit = lastCommitEnd;
        pendingFinal = txFinal;
    }

    /** What is pending goes; open when it ends inside a transaction (the target commits it with the transaction's last batch). */
    private void emit(Handler handler) throws InterruptedException {
        emit(handler, pendingTx >= 0);
    }

    private void emit(Handler handler, boolean open) throws InterruptedException {
        if (!positionPending) {
            if (!open && partsOpen) {
                // a statement inside the transaction: the open batches commit first, at the last one's position inside it
                handler.onBatch(new ChangeBatch(List.of(), lastPart, 0, List.of(), false));
                partsOpen = false;
            }
            return;
        }
        SourcePosition at = position(pendingLsn, pendingTx, pendingSeq, pendingCommit, pendingFinal);
        ChangeBatch batch = new ChangeBatch(pending, at, pendingMillis, List.of(), open);
        handler.onBatch(batch);
        partsOpen = open;
        lastPart = at;
        pending.clear();
        positionPending = false;
        pendingMillis = 0;
    }

    /**
     * A transaction's end ({@code tx} negative), or the change {@code seq} of transaction {@code tx} at {@code lsn}, which
     * commits at {@code finalLsn} ({@code lsn_final}: a resume needs the slot confirmed no further than there).
     */
    private static SourcePosition position(long lsn, long tx, long ordinal, long lastCommitEnd, long finalLsn) {
        Map<String, Object> offset = new LinkedHashMap<>();
        offset.put("lsn", lsn);
        offset.put("lsn_proc", lsn);
        offset.put("lsn_commit", lastCommitEnd);
        if (tx >= 0) {
            offset.put("txId", tx);
            offset.put("seq", ordinal);
            offset.put("lsn_final", finalLsn);
        }
        return PostgresPosition.of(offset);
    }

    private Rel relation(PgOutput.Relation r) {
        TableId id = new TableId(r.schema(), r.name());
        boolean heartbeat = id.schema().equals(PostgresHeartbeat.SCHEMA) && id.name().equals(PostgresHeartbeat.TABLE);
        TableDef def = heartbeat ? null : tables.get(id);
        Rel earlier = relations.get(r.id());
        if (earlier != null && earlier.def() != null && !earlier.id().equals(id)) {
            // the publication still holds the table under its new name: its changes would be dropped as outside the plan
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source's table " + earlier.id() + " was renamed to " + id
                    + " while streaming", "rename it back (ALTER TABLE " + PostgresDialect.quote(id) + " RENAME TO "
                    + PostgresDialect.quote(earlier.id().name()) + "), or rename the target's table the same way and put the new name in "
                    + "the plan's tables; then `migrator run` again resumes from the last applied change");
        }
        String[] names = new String[r.columns().size()];
        boolean[] bytea = new boolean[names.length];
        for (int i = 0; i < names.length; i++) {
            names[i] = r.columns().get(i).name();
            bytea[i] = r.columns().get(i).typeOid() == BYTEA;
        }
        int[] key = new int[0];
        if (def != null) {
            key = new int[def.key().size()];
            for (int k = 0; k < key.length; k++) {
                key[k] = java.util.Arrays.asList(names).indexOf(def.key().get(k));
                if (key[k] < 0) {
                    throw noKey(id, "its key column " + def.key().get(k) + " is not among the columns the publication sends");
                }
            }
            Rel known = relations.values().stream().filter(x -> x.id().equals(id)).findFirst().orElse(null);
            if (known != null && !known.relation().columns().equals(r.columns())) {
                LOG.warn("the source's table {} changed while streaming: columns {} are now {}; the target's table must be changed the same way",
                        id, known.relation().columns().stream().map(PgOutput.Column::name).toList(),
                        r.columns().stream().map(PgOutput.Column::name).toList());
            }
        }
        return new Rel(id, r, def, heartbeat, names, bytea, key);
    }

    private static MigratorException noKey(TableId table, String why) {
        return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "a change of " + table + " carries no key: " + why,
                "give the table a key its changes carry (ALTER TABLE ... REPLICA IDENTITY USING INDEX a unique index over NOT NULL "
                        + "columns, or ADD PRIMARY KEY), then `migrator run` again");
    }

    private static RowKey key(Rel rel, Object[] values) {
        List<String> columns = rel.def().key();
        List<Object> key = new ArrayList<>(columns.size());
        for (int k = 0; k < rel.key().length; k++) {
            int i = rel.key()[k];
            Object v = values[i];
            if (v == null || v == RowChange.UNCHANGED) {
                throw noKey(rel.id(), "the change does not send its key column " + columns.get(k) + " (replica identity "
                        + rel.relation().replicaIdentity() + ")");
            }
            key.add(rel.bytea()[i] ? PgOutput.bytea((String) v) : v);
        }
        return new RowKey(rel.id(), columns, key);
    }

    private static Map<String, Object> row(Rel rel, Object[] values) {
        Map<String, Object> row = new LinkedHashMap<>(values.length * 2);
        for (int i = 0; i < values.length; i++) {
            Object v = values[i];
            row.put(rel.names()[i], v instanceof String s && rel.bytea()[i] ? PgOutput.bytea(s) : v);
        }
        return row;
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
