package io.migrator.connectors.postgres;

import io.migrator.core.plan.Endpoint;
import io.migrator.core.schema.TableDef;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.postgresql.PGConnection;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.PGStream;
import org.postgresql.core.QueryExecutorBase;
import org.postgresql.copy.CopyOut;
import org.postgresql.replication.ReplicationSlotInfo;

/**
 * The PostgreSQL copy path: a logical replication slot created first, with an exported snapshot that every copy worker
 * imports, so the parallel COPYs read one consistent state and the stream starts exactly where they stopped (rule 1);
 * and a COPY that moves rows from source to target in PostgreSQL's binary format: row bodies are read from the source's
 * protocol stream into one buffer and written to the target's COPY 64 KB at a time, without parsing them.
 */
final class PostgresCopy {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PostgresCopy.class);
    private PostgresCopy() {
    }

    /** A slot and the snapshot it exported; the snapshot lives while this replication connection stays open and idle. */
    record Snapshot(Connection replication, String slot, String name, String consistentPoint) implements AutoCloseable {
        @Override
        public void close() throws SQLException {
            replication.close(); // the exported snapshot ends here; the slot stays and keeps the WAL from its point
        }
    }

    static Snapshot createSlot(Endpoint endpoint, String database, String slot) throws SQLException {
        Connection replication = replicationConnection(endpoint, database, "migrator-slot");
        try {
            ReplicationSlotInfo info = replication.unwrap(PGConnection.class).getReplicationAPI().createReplicationSlot().logical()
                    .withSlotName(slot).withOutputPlugin("pgoutput").make();
            return new Snapshot(replication, info.getSlotName(), info.getSnapshotName(), info.getConsistentPoint().asString());
        } catch (SQLException e) {
            replication.close();
            throw e;
        }
    }

    /** A logical replication connection to the database (simple query mode, TLS as the plan says), named {@code application}. */
    static Connection replicationConnection(Endpoint endpoint, String database, String application) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://" + endpoint.address() + "/" + database, replicationProperties(endpoint, application));
    }

    /** The driver properties of a replication connection (its TLS read through {@link BufferedTlsSocketFactory}). */
    static Properties replicationProperties(Endpoint endpoint, String application) {
        Properties props = new Properties();
        props.setProperty("user", endpoint.user());
        props.setProperty("password", endpoint.password().reveal());
        props.setProperty("replication", "database");
        props.setProperty("assumeMinServerVersion", "10");
        props.setProperty("preferQueryMode", "simple");
        props.setProperty("ApplicationName", application);
        props.setProperty("connectTimeout", "10");
        props.setProperty("tcpKeepAlive", "true");
        io.migrator.connectors.jdbc.DriverTls.addTo(props, io.migrator.connectors.jdbc.DriverTls.postgres(endpoint));
        BufferedTlsSocketFactory.install(props); // a TLS record per pgoutput message: read from the kernel in large pieces
        return props;
    }

    /** Starts a read-only transaction on the exported snapshot: every worker sees the database as of the slot's creation. */
    static void importSnapshot(Connection source, String snapshot) throws SQLException {
        source.setAutoCommit(false);
        try (Statement st = source.createStatement()) {
            st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            st.execute("SET TRANSACTION SNAPSHOT '" + snapshot.replace("'", "''") + "'");
        }
    }

    /** Bytes per write to the sink: the bodies of many rows, or a piece of one larger row. */
    static final int DRAIN_BYTES = 65536;
    private static final java.lang.reflect.Field PG_STREAM = pgStreamField();
    private static final java.util.concurrent.atomic.AtomicLong DRAINED = new java.util.concurrent.atomic.AtomicLong();

    private static java.lang.reflect.Field pgStreamField() {
        try {
            java.lang.reflect.Field f = QueryExecutorBase.class.getDeclaredField("pgStream");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("COPY rows go one by one through pgjdbc's CopyOut: its protocol stream is not reachable ({})", e.toString());
            return null;
        }
    }

    /** The connection's protocol stream, or null when this pgjdbc does not expose it (rows then come one by one). */
    private static PGStream stream(Connection c) {
        if (PG_STREAM == null) {
            return null;
        }
        try {
            return (PGStream) PG_STREAM.get(c.unwrap(BaseConnection.class).getQueryExecutor());
        } catch (ReflectiveOperationException | SQLException | RuntimeException e) {
            return null;
        }
    }

    /** CopyData messages read by {@link #drain}'s direct path since the JVM started: one per row, plus binary COPY's header and trailer. */
    static long drainedMessages() {
        return DRAINED.get();
    }

    /**
     * Reads the rest of a running COPY TO STDOUT into the sink and returns once pgjdbc has read the end of the command
     * (the row count is then {@code reader.getHandledRowCount()}). Row bodies are read from the connection's protocol
     * stream straight into one 64 KB buffer and handed over 64 KB at a time: no array per row, no pgjdbc call per row
     * (COPY data need not align with rows). A row larger than the buffer goes through it in pieces, never held whole.
     * Any message that is not CopyData (a notice, an error, the end) is left to pgjdbc; a row after a notice comes back
     * from it and goes to the sink as it is.
     */
    static void drain(Connection source, CopyOut reader, io.migrator.core.spi.SourceSession.RawSink sink) throws SQLException {
        PGStream from = stream(source);
        byte[] buffer = new byte[DRAIN_BYTES];
        byte[] row;
        do {
            if (from != null) {
                drainMessages(from, sink, buffer);
            }
            row = reader.readFromCopy();
            if (row != null) {
                sink.write(row, row.length);
            }
        } while (row != null);
    }

    private static void drainMessages(PGStream from, io.migrator.core.spi.SourceSession.RawSink sink, byte[] buffer) throws SQLException {
        int used = 0;
        long messages = 0;
        boolean midMessage = false;
        try {
            while (from.peekChar() == 'd') {
                from.receiveChar();
                int body = from.receiveInteger4() - 4; // the length counts itself
                messages++;
                if (used + body > buffer.length) {
                    if (used > 0) {
                        sink.write(buffer, used);
                        used = 0;
                    }
                    if (body > buffer.length) {
                        midMessage = true;
                        for (int left = body; left > 0; ) {
                            int n = Math.min(left, buffer.length);
                            from.receive(buffer, 0, n);
                            sink.write(buffer, n);
                            left -= n;
                        }
                        midMessage = false;
                        continue;
                    }
                }
                midMessage = true;
                from.receive(buffer, used, body);
                midMessage = false;
                used += body;
            }
            if (used > 0) {
                sink.write(buffer, used);
            }
        } catch (java.io.IOException e) {
            closeQuietly(from); // mid-message: this connection may not serve another statement
            throw new SQLException("the source connection broke while copying: " + e.getMessage(), "08006", e);
        } catch (RuntimeException e) {
            if (midMessage) {
                closeQuietly(from); // the sink failed inside a large row: the rest of it is unread
            }
            throw e;
        } finally {
            DRAINED.addAndGet(messages);
        }
    }

    private static void closeQuietly(PGStream stream) {
        try {
            stream.close();
        } catch (java.io.IOException ignored) {
            // already broken
        }
    }

    /** No column is, or is an array of, a composite type, and no array has an enum, domain or composite element. */
    static boolean binarySafe(Connection c, TableDef table) throws SQLException {
        try (var ps = c.prepareStatement("""
                SELECT NOT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                  LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
                  WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped
                    AND (t.typtype = 'c' OR e.typtype IN ('e', 'd', 'c')))""")) {
            ps.setString(1, PostgresDialect.quote(table.id()));
            try (var rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    static void dropSlot(Connection c, String slot) throws SQLException {
        try (var ps = c.prepareStatement("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            ps.execute();
        }
    }
}
