package io.migrator.connectors.redis;

/** An open-addressing set of longs (16 bytes a member at most): the keys a full sync restored, by 64-bit hash. */
final class LongHashSet {
    private static final long EMPTY = 0;
    private long[] slots = new long[1 << 16];
    private int size;
    private boolean hasZero;

    void add(long value) {
        if (value == EMPTY) {
            hasZero = true;
            return;
        }
        if ((size + 1) * 2 > slots.length) {
            grow();
        }
        if (insert(slots, value)) {
            size++;
        }
    }

    boolean contains(long value) {
        if (value == EMPTY) {
            return hasZero;
        }
        int mask = slots.length - 1;
        for (int i = mix(value) & mask; ; i = (i + 1) & mask) {
            if (slots[i] == value) {
                return true;
            }
            if (slots[i] == EMPTY) {
                return false;
            }
        }
    }

    int size() {
        return size + (hasZero ? 1 : 0);
    }

    private static boolean insert(long[] table, long value) {
        int mask = table.length - 1;
        for (int i = mix(value) & mask; ; i = (i + 1) & mask) {
            if (table[i] == value) {
                return false;
            }
            if (table[i] == EMPTY) {
                table[i] = value;
                return true;
            }
        }
    }

    private void grow() {
        long[] bigger = new long[slots.length * 2];
        for (long v : slots) {
            if (v != EMPTY) {
                insert(bigger, v);
            }
        }
        slots = bigger;
    }

    private static int mix(long v) {
        long h = v * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }

    /** A 64-bit hash of a database number and key bytes (FNV-1a, then mixed). */
    static long hash(int db, byte[] key) {
        long h = 0xcbf29ce484222325L ^ db;
        for (byte b : key) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        return h;
    }
}
