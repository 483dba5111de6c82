package io.migrator.connectors.postgres;

import io.migrator.core.plan.Endpoint;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;
import org.postgresql.PGConnection;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.PGStream;
import org.postgresql.core.QueryExecutorBase;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyManager;
import org.postgresql.copy.CopyOut;
import org.postgresql.replication.ReplicationSlotInfo;

/**
 * The PostgreSQL copy path: a logical replication slot created first, with an exported snapshot that every copy worker
 * imports, so the parallel COPYs read one consistent state and the stream starts exactly where they stopped (rule 1);
 * and a COPY that moves rows from source to target in PostgreSQL's binary format: the source's CopyData messages are
 * forwarded to the target as they arrived, 64 KB at a time, without parsing or re-framing them.
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
        Properties props = new Properties();
        props.setProperty("user", endpoint.user());
        props.setProperty("password", endpoint.password().reveal());
        props.setProperty("replication", "database");
        props.setProperty("assumeMinServerVersion", "10");
        props.setProperty("preferQueryMode", "simple");
        props.setProperty("ApplicationName", "migrator-slot");
        Connection replication = DriverManager.getConnection("jdbc:postgresql://" + endpoint.address() + "/" + database, props);
        try {
            ReplicationSlotInfo info = replication.unwrap(PGConnection.class).getReplicationAPI().createReplicationSlot().logical()
                    .withSlotName(slot).withOutputPlugin("pgoutput").make();
            return new Snapshot(replication, info.getSlotName(), info.getSnapshotName(), info.getConsistentPoint().asString());
        } catch (SQLException e) {
            replication.close();
            throw e;
        }
    }

    /** Starts a read-only transaction on the exported snapshot: every worker sees the database as of the slot's creation. */
    static void importSnapshot(Connection source, String snapshot) throws SQLException {
        source.setAutoCommit(false);
        try (Statement st = source.createStatement()) {
            st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            st.execute("SET TRANSACTION SNAPSHOT '" + snapshot.replace("'", "''") + "'");
        }
    }

    /**
     * Copies the rows {@code where} selects (SQL over the source table, or empty for all) into the target table inside the
     * target connection's open transaction; returns the rows written. Generated columns are left to the target.
     */
    static long copy(Connection source, Connection target, TableDef table, String where) throws SQLException {
        List<ColumnDef> columns = table.writableColumns();
        String list = columns.stream().map(c -> PostgresDialect.quote(c.name())).collect(Collectors.joining(", "));
        String select = "SELECT " + list + " FROM " + PostgresDialect.quote(table.id()) + (where == null || where.isBlank() ? "" : " WHERE " + where);
        // binary is the fast path, but an array of an enum, domain or composite type carries its element type's OID,
        // which differs between two servers: such tables go as text
        String format = binarySafe(source, table) ? "binary" : "text";
        CopyManager out = source.unwrap(PGConnection.class).getCopyAPI();
        CopyManager in = target.unwrap(PGConnection.class).getCopyAPI();
        CopyOut reader = null;
        CopyIn writer = null;
        try {
            reader = out.copyOut("COPY (" + select + ") TO STDOUT (FORMAT " + format + ")");
            writer = in.copyIn("COPY " + PostgresDialect.quote(table.id()) + " (" + list + ") FROM STDIN (FORMAT " + format + ")");
            PGStream from = stream(source);
            PGStream to = stream(target);
            byte[] row;
            do {
                if (from != null && to != null) {
                    forward(from, to);
                }
                // whatever is not CopyData (a notice, or CopyDone and the end of the command) is pgjdbc's to read; a row
                // after a notice comes back from it
                row = reader.readFromCopy();
                if (row != null) {
                    writer.writeToCopy(row, 0, row.length);
                }
            } while (row != null);
            return writer.endCopy();
        } finally {
            cancel(writer);
            cancel(reader);
        }
    }

    /** Bytes forwarded per write to the target: whole CopyData messages, many rows each. */
    static final int FORWARD_BYTES = 65536;
    private static final java.lang.reflect.Field PG_STREAM = pgStreamField();
    private static final java.util.concurrent.atomic.AtomicLong FORWARDED = new java.util.concurrent.atomic.AtomicLong();

    private static java.lang.reflect.Field pgStreamField() {
        try {
            java.lang.reflect.Field f = QueryExecutorBase.class.getDeclaredField("pgStream");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("COPY goes row by row through pgjdbc's CopyManager: its protocol stream is not reachable ({})", e.toString());
            return null;
        }
    }

    /** The connection's protocol stream, or null when this pgjdbc does not expose it (the copy then goes row by row). */
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

    /** CopyData messages the forwarding path has moved since the JVM started: one per row, plus binary COPY's header and trailer. */
    static long forwardedMessages() {
        return FORWARDED.get();
    }

    /**
     * Forwards the source's CopyData messages to the target as they arrived, header included: the target's COPY reads the
     * same message, so each row is neither parsed nor re-framed, and rows leave 64 KB at a time instead of one write call
     * each. A row larger than the buffer streams through it, never held whole. Stops before the first message that is not
     * CopyData, which the caller hands to pgjdbc.
     */
    private static void forward(PGStream from, PGStream to) throws SQLException {
        byte[] buffer = new byte[FORWARD_BYTES];
        int used = 0;
        long messages = 0;
        try {
            while (from.peekChar() == 'd') {
                from.receiveChar();
                int length = from.receiveInteger4(); // counts itself
                int body = length - 4;
                messages++;
                if (used + 5 + body > buffer.length) {
                    to.send(buffer, 0, used);
                    used = 0;
                    if (5 + body > buffer.length) {
                        to.sendChar('d');
                        to.sendInteger4(length);
                        for (int left = body; left > 0; ) {
                            int n = Math.min(left, buffer.length);
                            from.receive(buffer, 0, n);
                            to.send(buffer, 0, n);
                            left -= n;
                        }
                        continue;
                    }
                }
                buffer[used] = 'd';
                buffer[used + 1] = (byte) (length >>> 24);
                buffer[used + 2] = (byte) (length >>> 16);
                buffer[used + 3] = (byte) (length >>> 8);
                buffer[used + 4] = (byte) length;
                from.receive(buffer, used + 5, body);
                used += 5 + body;
            }
            to.send(buffer, 0, used);
        } catch (java.io.IOException e) {
            // one side is gone and the other is mid-message: neither connection may serve another statement
            closeQuietly(from);
            closeQuietly(to);
            throw new SQLException("the connection broke while copying: " + e.getMessage(), "08006", e);
        } finally {
            FORWARDED.addAndGet(messages);
        }
    }

    private static void closeQuietly(PGStream stream) {
        try {
            stream.close();
        } catch (java.io.IOException ignored) {
            // already broken
        }
    }

    private static void cancel(org.postgresql.copy.CopyOperation operation) {
        if (operation != null && operation.isActive()) {
            try {
                operation.cancelCopy();
            } catch (SQLException ignored) {
                // the connection is broken; the caller's transaction rolls back and the original error is reported
            }
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
