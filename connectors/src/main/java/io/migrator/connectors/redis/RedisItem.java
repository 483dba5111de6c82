package io.migrator.connectors.redis;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/** What the replication reader hands the applier: a full sync's start and keys, the stream's start, its commands. */
sealed interface RedisItem permits RedisItem.FullSync, RedisItem.Keys, RedisItem.StreamStart, RedisItem.Command {
    /** Its size in KiB (at least 1), counted against the bytes held between the replication socket and the target. */
    int kib();

    /** A full sync begins: keys follow as DUMP payloads until the stream starts. */
    record FullSync() implements RedisItem {
        public int kib() {
            return 1;
        }
    }

    /**
     * A key of the full sync and its absolute expiry in ms (-1: none): {@code payload} is a string's plain value when
     * {@code string}, else the key's DUMP payload.
     */
    record Key(int db, byte[] key, byte[] payload, long expireAt, boolean string) {
        int kib() {
            return 1 + (key.length + payload.length) / 1024;
        }
    }

    /**
     * Keys of the full sync in the order the RDB had them, handed over together: one queue operation for a few hundred
     * small keys instead of one each.
     */
    record Keys(List<Key> keys, int kib, long bytes) implements RedisItem {
    }

    /** The stream starts at {@code offset}: after a full sync ({@code full}) or continuing a partial resync. */
    record StreamStart(String replId, long offset, boolean full) implements RedisItem {
        public int kib() {
            return 1;
        }
    }

    /** A command of the stream; {@code end} is the replication offset after it. */
    record Command(byte[][] argv, long end, String name, int kib) implements RedisItem {
        static Command of(byte[][] argv, long end) {
            int bytes = 0;
            for (byte[] a : argv) {
                bytes += a.length;
            }
            return new Command(argv, end, new String(argv[0], StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT), 1 + bytes / 1024);
        }
    }
}
