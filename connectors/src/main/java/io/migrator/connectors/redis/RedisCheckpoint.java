package io.migrator.connectors.redis;

import io.migrator.core.state.Phase;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the target keeps about a Redis migration, in one hash written in the same MULTI/EXEC as each batch: the source's
 * replication id and the offset of the last applied byte (a restart sends {@code PSYNC replid offset+1}), the database the
 * stream had selected, the phase, counters for status. On a cluster, each slot also keeps the offset of the last command
 * applied to it, written in that slot's own MULTI/EXEC.
 */
record RedisCheckpoint(String replId, long offset, int db, Phase phase, long events, long keysRestored, String sync, String updatedAt,
        String resync) {
    static final String PREFIX = "__migrator__:";
    /** The field that says the target lost writes or refused one (see {@link RedisContinuity}): the next run syncs in full. */
    static final String RESYNC = "resync";

    RedisCheckpoint(String replId, long offset, int db, Phase phase, long events, long keysRestored, String sync, String updatedAt) {
        this(replId, offset, db, phase, events, keysRestored, sync, updatedAt, "");
    }

    static String key(String plan) {
        return PREFIX + plan + ":checkpoint";
    }

    static String journalKey(String plan) {
        return PREFIX + plan + ":journal";
    }

    static String slotKey(String plan, int slot) {
        return PREFIX + plan + ":slot:{" + RedisTargetNodes.slotTag(slot) + "}";
    }

    /** Whether a key is migrator's own bookkeeping (never migrated, never compared). */
    static boolean bookkeeping(byte[] key) {
        if (key.length < PREFIX.length()) {
            return false;
        }
        for (int i = 0; i < PREFIX.length(); i++) {
            if (key[i] != PREFIX.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    String position() {
        return replId + ":" + offset;
    }

    /** Whether the target marked this migration for a full resync (it lost or refused writes). */
    boolean needsResync() {
        return !resync.isEmpty();
    }

    /** HSET arguments (after the key). */
    List<String> fields() {
        return List.of("replid", replId, "offset", Long.toString(offset), "db", Integer.toString(db), "phase", phase.name(),
                "events", Long.toString(events), "keysRestored", Long.toString(keysRestored), "sync", sync, "updatedAt", updatedAt);
    }

    byte[][] hset(String plan) {
        List<String> fields = fields();
        byte[][] argv = new byte[fields.size() + 2][];
        argv[0] = "HSET".getBytes(StandardCharsets.US_ASCII);
        argv[1] = key(plan).getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < fields.size(); i++) {
            argv[i + 2] = fields.get(i).getBytes(StandardCharsets.UTF_8);
        }
        return argv;
    }

    /** Reads the HGETALL reply (a flat list or a map); null when the hash does not exist. */
    static RedisCheckpoint parse(Object reply) {
        Map<String, String> f = new HashMap<>();
        if (reply instanceof List<?> list) {
            for (int i = 0; i + 1 < list.size(); i += 2) {
                f.put(RedisCommandTable.text(list.get(i)), RedisCommandTable.text(list.get(i + 1)));
            }
        } else if (reply instanceof Map<?, ?> map) {
            map.forEach((k, v) -> f.put(RedisCommandTable.text(k), RedisCommandTable.text(v)));
        }
        if (f.isEmpty()) {
            return null;
        }
        return new RedisCheckpoint(f.getOrDefault("replid", "?"), Long.parseLong(f.getOrDefault("offset", "-1")),
                Integer.parseInt(f.getOrDefault("db", "-1")), Phase.valueOf(f.getOrDefault("phase", Phase.SNAPSHOT.name())),
                Long.parseLong(f.getOrDefault("events", "0")), Long.parseLong(f.getOrDefault("keysRestored", "0")),
                f.getOrDefault("sync", "full"), f.getOrDefault("updatedAt", ""), f.getOrDefault(RESYNC, ""));
    }

    RedisCheckpoint at(String replId, long offset, int db) {
        return new RedisCheckpoint(replId, offset, db, phase, events, keysRestored, sync, java.time.Instant.now().toString());
    }

    RedisCheckpoint with(Phase phase, long events, long keysRestored, String sync) {
        return new RedisCheckpoint(replId, offset, db, phase, events, keysRestored, sync, java.time.Instant.now().toString());
    }
}
