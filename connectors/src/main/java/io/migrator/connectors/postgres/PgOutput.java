package io.migrator.connectors.postgres;

import io.migrator.core.change.RowChange;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The messages of PostgreSQL's pgoutput plugin, protocol versions 1 and 2 (the logical replication message formats of
 * the PostgreSQL documentation, "Logical Replication Message Formats"): read from the data of one XLogData message.
 * Version 2 adds the streaming of transactions still in progress: Stream Start, Stop, Commit and Abort, and inside a
 * stream block every change, relation and type message begins with the (sub)transaction's xid ({@link #streamedXid}). Values
 * stay as the walsender wrote them — each column's output text, in the connection's client encoding — so a PostgreSQL
 * target parses them with the column's own type and nothing is lost in a conversion.
 */
final class PgOutput {
    /** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC), for commit timestamps. */
    private static final long PG_EPOCH_MICROS = 946_684_800_000_000L;

    private PgOutput() {
    }

    sealed interface Message {
    }

    /** A transaction starts: its commit record's LSN, its commit time (Unix milliseconds) and its xid. */
    record Begin(long finalLsn, long commitMillis, long xid) implements Message {
    }

    /** A transaction ends: its commit record's LSN and the LSN just past it (where a restart resumes after it). */
    record Commit(long commitLsn, long endLsn, long commitMillis) implements Message {
    }

    /** The changes that follow were replayed from another origin (another replication stream applied them). */
    record Origin(long commitLsn, String name) implements Message {
    }

    /** A column of a relation: name, type OID and modifier, and whether it is part of the replica identity. */
    record Column(String name, int typeOid, int typeModifier, boolean key) {
    }

    /** A table's shape as the walsender knows it; sent before the table's first change and again after it changed. */
    record Relation(int id, String schema, String name, char replicaIdentity, List<Column> columns) implements Message {
    }

    /** A type that is not built in (an enum, a domain, a composite): its name. */
    record Type(int oid, String schema, String name) implements Message {
    }

    /** A row inserted: its values. */
    record Insert(int relation, Object[] values) implements Message {
    }

    /**
     * A row updated: the new values and, when the replica identity's columns changed ('K') or the identity is FULL ('O'),
     * the old ones (else null).
     */
    record Update(int relation, Object[] old, Object[] values) implements Message {
    }

    /** A row deleted: the replica identity's old values (the others null), or the whole old row under FULL. */
    record Delete(int relation, Object[] old) implements Message {
    }

    /** Tables truncated in one statement; {@code cascade} and {@code restartIdentity} as the statement said. */
    record Truncate(int[] relations, boolean cascade, boolean restartIdentity) implements Message {
    }

    /** A logical decoding message (pg_logical_emit_message) sent inside or outside a transaction. */
    record LogicalMessage(boolean transactional, long lsn, String prefix, byte[] content) implements Message {
    }

    /** A block of a transaction still in progress begins (protocol 2): its top-level xid, and whether it is its first block. */
    record StreamStart(long xid, boolean first) implements Message {
    }

    /** The stream block ends. */
    record StreamStop() implements Message {
    }

    /** A streamed transaction committed: apply what its blocks sent. */
    record StreamCommit(long xid, long commitLsn, long endLsn, long commitMillis) implements Message {
    }

    /** A streamed transaction ({@code subxid == xid}) or one of its subtransactions rolled back: drop what it sent. */
    record StreamAbort(long xid, long subxid) implements Message {
    }

    /**
     * Inside a stream block: the xid of the (sub)transaction a change, relation, type or transactional message belongs
     * to, which precedes the message's own fields; -1 for the stream control messages.
     */
    static long streamedXid(ByteBuffer b) {
        return switch (b.get(b.position())) {
            case 'R', 'Y', 'I', 'U', 'D', 'T', 'M' -> Integer.toUnsignedLong(b.getInt(b.position() + 1));
            default -> -1;
        };
    }

    /** Reads one message; a kind migrator does not know (a newer protocol's) fails loudly rather than being skipped. */
    static Message read(ByteBuffer b) {
        return read(b, false);
    }

    /** Reads one message, sent inside a stream block when {@code streamed} (its xid before its fields is skipped). */
    static Message read(ByteBuffer b, boolean streamed) {
        byte kind = b.get();
        if (streamed && streamedXid(kind)) {
            b.getInt();
        }
        switch (kind) {
            case 'S' -> {
                long xid = Integer.toUnsignedLong(b.getInt());
                return new StreamStart(xid, b.get() == 1);
            }
            case 'E' -> {
                return new StreamStop();
            }
            case 'c' -> {
                long xid = Integer.toUnsignedLong(b.getInt());
                b.get(); // flags, unused
                long commitLsn = b.getLong();
                long endLsn = b.getLong();
                long ts = b.getLong();
                return new StreamCommit(xid, commitLsn, endLsn, millis(ts));
            }
            case 'A' -> {
                long xid = Integer.toUnsignedLong(b.getInt());
                return new StreamAbort(xid, Integer.toUnsignedLong(b.getInt())); // protocol 4's abort LSN and time are not asked for
            }
            case 'B' -> {
                long finalLsn = b.getLong();
                long ts = b.getLong();
                long xid = Integer.toUnsignedLong(b.getInt());
                return new Begin(finalLsn, millis(ts), xid);
            }
            case 'C' -> {
                b.get(); // flags, unused
                long commitLsn = b.getLong();
                long endLsn = b.getLong();
                long ts = b.getLong();
                return new Commit(commitLsn, endLsn, millis(ts));
            }
            case 'O' -> {
                long lsn = b.getLong();
                return new Origin(lsn, string(b));
            }
            case 'R' -> {
                int id = b.getInt();
                String schema = string(b);
                String name = string(b);
                char identity = (char) b.get();
                int count = Short.toUnsignedInt(b.getShort());
                List<Column> columns = new ArrayList<>(count);
                for (int i = 0; i < count; i++) {
                    boolean key = (b.get() & 1) != 0;
                    String column = string(b);
                    int type = b.getInt();
                    int modifier = b.getInt();
                    columns.add(new Column(column, type, modifier, key));
                }
                // pgoutput writes an empty namespace for pg_catalog
                return new Relation(id, schema.isEmpty() ? "pg_catalog" : schema, name, identity, List.copyOf(columns));
            }
            case 'Y' -> {
                int oid = b.getInt();
                String schema = string(b);
                return new Type(oid, schema, string(b));
            }
            case 'I' -> {
                int relation = b.getInt();
                expect(b, 'N', "an insert's new tuple");
                return new Insert(relation, tuple(b));
            }
            case 'U' -> {
                int relation = b.getInt();
                byte next = b.get();
                Object[] old = null;
                if (next == 'K' || next == 'O') {
                    old = tuple(b);
                    next = b.get();
                }
                if (next != 'N') {
                    throw unexpected(next, "an update's new tuple");
                }
                return new Update(relation, old, tuple(b));
            }
            case 'D' -> {
                int relation = b.getInt();
                byte next = b.get();
                if (next != 'K' && next != 'O') {
                    throw unexpected(next, "a delete's old tuple");
                }
                return new Delete(relation, tuple(b));
            }
            case 'T' -> {
                int count = b.getInt();
                byte options = b.get();
                int[] relations = new int[count];
                for (int i = 0; i < count; i++) {
                    relations[i] = b.getInt();
                }
                return new Truncate(relations, (options & 1) != 0, (options & 2) != 0);
            }
            case 'M' -> {
                // a transactional message in a stream block carries its xid; a non-transactional one is never in a block
                boolean transactional = (b.get() & 1) != 0;
                long lsn = b.getLong();
                String prefix = string(b);
                byte[] content = new byte[b.getInt()];
                b.get(content);
                return new LogicalMessage(transactional, lsn, prefix, content);
            }
            default -> throw new IllegalStateException("pgoutput sent a message of kind '" + (char) kind + "' (" + kind
                    + ") that protocol versions 1 and 2 do not have");
        }
    }

    private static boolean streamedXid(byte kind) {
        return switch (kind) {
            case 'R', 'Y', 'I', 'U', 'D', 'T', 'M' -> true;
            default -> false;
        };
    }

    /** A tuple's values: the output text of each column, null for NULL, {@link RowChange#UNCHANGED} for an unsent TOAST value. */
    private static Object[] tuple(ByteBuffer b) {
        int count = Short.toUnsignedInt(b.getShort());
        Object[] values = new Object[count];
        for (int i = 0; i < count; i++) {
            byte kind = b.get();
            switch (kind) {
                case 'n' -> values[i] = null;
                case 'u' -> values[i] = RowChange.UNCHANGED;
                case 't' -> {
                    int length = b.getInt();
                    values[i] = text(b, length);
                }
                case 'b' -> throw new IllegalStateException("pgoutput sent a value in binary form, which migrator does not ask for");
                default -> throw unexpected(kind, "a column value");
            }
        }
        return values;
    }

    private static String text(ByteBuffer b, int length) {
        String s;
        if (b.hasArray()) {
            s = new String(b.array(), b.arrayOffset() + b.position(), length, StandardCharsets.UTF_8);
            b.position(b.position() + length);
        } else {
            byte[] bytes = new byte[length];
            b.get(bytes);
            s = new String(bytes, StandardCharsets.UTF_8);
        }
        return s;
    }

    /** A NUL-terminated string. */
    private static String string(ByteBuffer b) {
        int start = b.position();
        int end = start;
        while (b.get(end) != 0) {
            end++;
        }
        b.position(start);
        String s = text(b, end - start);
        b.get(); // the NUL
        return s;
    }

    private static void expect(ByteBuffer b, char wanted, String what) {
        byte got = b.get();
        if (got != wanted) {
            throw unexpected(got, what);
        }
    }

    private static IllegalStateException unexpected(byte got, String what) {
        return new IllegalStateException("pgoutput sent '" + (char) got + "' where " + what + " belongs");
    }

    private static long millis(long pgMicros) {
        return (pgMicros + PG_EPOCH_MICROS) / 1000;
    }

    /** A bytea value's output text ({@code \x} and hex, bytea_output = hex) as its bytes. */
    static byte[] bytea(String text) {
        if (!text.startsWith("\\x")) {
            throw new IllegalStateException("a bytea value arrived in escape form; the stream sets bytea_output = hex");
        }
        return java.util.HexFormat.of().parseHex(text, 2, text.length());
    }
}
