package io.migrator.connectors.redis;

import com.moilioncircle.redis.replicator.Replicator;
import com.moilioncircle.redis.replicator.io.RawByteListener;
import com.moilioncircle.redis.replicator.io.RedisInputStream;
import com.moilioncircle.redis.replicator.rdb.dump.DumpRdbValueVisitor;
import com.moilioncircle.redis.replicator.rdb.skip.SkipRdbParser;
import com.moilioncircle.redis.replicator.util.CRC64;
import java.io.IOException;
import java.util.Arrays;

/**
 * Builds DUMP payloads of string keys (most keys of most caches) without redis-replicator's per-byte buffer and per-byte
 * CRC: the value's RDB bytes are copied as they stream past, then the footer (RDB version, CRC64-Jones computed eight bytes
 * at a time) is appended. Other types, and payloads re-encoded for an older target, go through {@link DumpRdbValueVisitor}.
 */
final class FastDumpValueVisitor extends DumpRdbValueVisitor {
    private static final long[][] TABLES = tables();

    FastDumpValueVisitor(Replicator replicator) {
        super(replicator, -1, 512);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T applyString(RedisInputStream in, int version) throws IOException {
        Payload payload = new Payload((byte) 0); // RDB_TYPE_STRING
        replicator.addRawByteListener(payload);
        try {
            new SkipRdbParser(in).rdbLoadEncodedStringObject();
        } finally {
            replicator.removeRawByteListener(payload);
        }
        return (T) payload.finish(version);
    }

    /** The payload as it streams past: type byte, value bytes; then the footer. */
    static final class Payload implements RawByteListener {
        private byte[] bytes = new byte[128];
        private int length;

        Payload(byte type) {
            bytes[length++] = type;
        }

        @Override
        public void handle(byte... raw) {
            append(raw, raw.length);
        }

        private void append(byte[] raw, int n) {
            if (length + n > bytes.length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + n));
            }
            System.arraycopy(raw, 0, bytes, length, n);
            length += n;
        }

        byte[] finish(int rdbVersion) {
            byte[] out = Arrays.copyOf(bytes, length + 10);
            out[length] = (byte) rdbVersion;
            out[length + 1] = 0;
            byte[] crc = CRC64.longToByteArray(crc64(out, 0, length + 2));
            System.arraycopy(crc, 0, out, length + 2, 8);
            return out;
        }
    }

    /** CRC-64-Jones as Redis computes it (the table of {@link CRC64}), eight bytes a step (slicing-by-8). */
    static long crc64(byte[] b, int from, int to) {
        long crc = 0;
        long[] t0 = TABLES[0], t1 = TABLES[1], t2 = TABLES[2], t3 = TABLES[3], t4 = TABLES[4], t5 = TABLES[5], t6 = TABLES[6],
                t7 = TABLES[7];
        int i = from;
        for (; i + 8 <= to; i += 8) {
            crc ^= (b[i] & 0xffL) | (b[i + 1] & 0xffL) << 8 | (b[i + 2] & 0xffL) << 16 | (b[i + 3] & 0xffL) << 24
                    | (b[i + 4] & 0xffL) << 32 | (b[i + 5] & 0xffL) << 40 | (b[i + 6] & 0xffL) << 48 | (b[i + 7] & 0xffL) << 56;
            crc = t7[(int) crc & 0xff] ^ t6[(int) (crc >>> 8) & 0xff] ^ t5[(int) (crc >>> 16) & 0xff] ^ t4[(int) (crc >>> 24) & 0xff]
                    ^ t3[(int) (crc >>> 32) & 0xff] ^ t2[(int) (crc >>> 40) & 0xff] ^ t1[(int) (crc >>> 48) & 0xff] ^ t0[(int) (crc >>> 56) & 0xff];
        }
        for (; i < to; i++) {
            crc = (crc >>> 8) ^ t0[(int) (crc ^ b[i]) & 0xff];
        }
        return crc;
    }

    private static long[][] tables() {
        long[][] t = new long[8][256];
        for (int i = 0; i < 256; i++) {
            t[0][i] = CRC64.LOOKUP_TABLE[i];
        }
        for (int k = 1; k < 8; k++) {
            for (int i = 0; i < 256; i++) {
                long prev = t[k - 1][i];
                t[k][i] = (prev >>> 8) ^ t[0][(int) prev & 0xff];
            }
        }
        return t;
    }
}
