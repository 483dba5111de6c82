package io.migrator.connectors.redis;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Whether the target still holds everything the worker applied, checked inside each batch's own MULTI/EXEC, so the answer
 * and the batch commit together (a kill -9 can never separate them).
 *
 * <p>Redis rolls nothing back: a command that fails inside EXEC (WRONGTYPE: a key of another type on the target) leaves
 * the others and the checkpoint committed, and a target that restarted without persistence, failed over to a replica that
 * lagged, or was flushed takes the next batch as if nothing happened. So each standalone batch opens with {@link #begin},
 * which notes the server's count of error replies, and ends with {@link #commit}, which writes the checkpoint only if that
 * count did not move (no command of this batch failed: nothing else runs inside an EXEC) and the stored offset is the one
 * the worker last committed; otherwise it marks the checkpoint {@code resync} with the reason and answers an error. A
 * cluster slot's offset is written by {@link #slotCommit}, which checks the slot's stored offset the same way. A marked
 * migration stops; its next run synchronises in full (every key restored, keys the source lacks removed).
 */
final class RedisContinuity {
    /** Error replies counted before the batch's commands (INFO stats, Redis 6.2+; empty on older servers: no check). */
    private static final String BEGIN = "local s = redis.call('INFO', 'stats') "
            + "redis.call('HSET', KEYS[1], 'errors', string.match(s, 'total_error_replies:(%d+)') or '') return 1";
    /** ARGV[1]: the offset stored by the last committed batch; ARGV[2..]: the checkpoint's fields. */
    private static final String COMMIT = "local stored = redis.call('HGET', KEYS[1], 'offset') or 'nothing' "
            + "if stored ~= ARGV[1] then "
            + "  local why = 'the target lost writes: its checkpoint was at offset ' .. stored .. ', the worker had committed ' .. ARGV[1] "
            + "  redis.call('HSET', KEYS[1], 'resync', why) return redis.error_reply('MIGRATORLOST ' .. why) end "
            + "local s = redis.call('INFO', 'stats') local now = string.match(s, 'total_error_replies:(%d+)') or '' "
            + "local before = redis.call('HGET', KEYS[1], 'errors') or '' "
            + "if now ~= '' and before ~= '' and now ~= before then "
            + "  local why = 'a command of the stream failed on the target (its key differs from the source) before offset ' .. ARGV[5] "
            + "  redis.call('HSET', KEYS[1], 'resync', why) return redis.error_reply('MIGRATORLOST ' .. why) end "
            + "redis.call('HSET', KEYS[1], unpack(ARGV, 2)) return 1";
    /** ARGV[1]: the value the worker last committed for the slot ('' for none); ARGV[2]: its replication id and ':'; ARGV[3]: the new value. */
    private static final String SLOT_COMMIT = "local v = redis.call('GET', KEYS[1]) or '' "
            + "if string.sub(v, 1, 7) == 'resync:' then return redis.error_reply('MIGRATORLOST ' .. string.sub(v, 8)) end "
            + "if string.sub(v, 1, #ARGV[2]) ~= ARGV[2] then v = '' end "
            + "if v ~= ARGV[1] then "
            + "  local why = 'the target lost writes: slot offset ' .. (v == '' and 'gone' or v) .. ', the worker had committed ' .. (ARGV[1] == '' and 'none' or ARGV[1]) "
            + "  redis.call('SET', KEYS[1], 'resync:' .. why) return redis.error_reply('MIGRATORLOST ' .. why) end "
            + "redis.call('SET', KEYS[1], ARGV[3]) return 1";
    /** FLUSHDB (ARGV: its options) of database 0, keeping the checkpoint hash as it was (its offset is checked at commit). */
    private static final String FLUSH_KEEPING = "local h = redis.call('HGETALL', KEYS[1]) redis.call('FLUSHDB', unpack(ARGV)) "
            + "if #h > 0 then redis.call('HSET', KEYS[1], unpack(h)) end return 'OK'";
    private static final String MARK = "MIGRATORLOST ";
    static final String SLOT_MARK = "resync:";

    private RedisContinuity() {
    }

    static byte[][] begin(String checkpointKey) {
        return RedisTargetNodes.argv("EVAL", BEGIN, "1", checkpointKey);
    }

    /** The checkpoint's HSET, done only if the target still holds {@code committedOffset} and no command of the batch failed. */
    static byte[][] commit(String checkpointKey, long committedOffset, List<String> fields) {
        byte[][] argv = new byte[5 + fields.size()][];
        argv[0] = bytes("EVAL");
        argv[1] = bytes(COMMIT);
        argv[2] = bytes("1");
        argv[3] = bytes(checkpointKey);
        argv[4] = bytes(Long.toString(committedOffset));
        for (int i = 0; i < fields.size(); i++) {
            argv[5 + i] = bytes(fields.get(i));
        }
        return argv;
    }

    /** A slot's offset, set only if the slot still holds {@code committed} (null: nothing committed in this history). */
    static byte[][] slotCommit(String slotKey, String replId, Long committed, long end) {
        String prefix = replId + ":";
        return RedisTargetNodes.argv("EVAL", SLOT_COMMIT, "1", slotKey, committed == null ? "" : prefix + committed, prefix, prefix + end);
    }

    /** The stream's FLUSHDB in database 0, where the checkpoint lives: the flush keeps the checkpoint hash. */
    static byte[][] flushKeeping(String checkpointKey, byte[][] flush) {
        byte[][] argv = new byte[3 + flush.length][];
        argv[0] = bytes("EVAL");
        argv[1] = bytes(FLUSH_KEEPING);
        argv[2] = bytes("1");
        argv[3] = bytes(checkpointKey);
        System.arraycopy(flush, 1, argv, 4, flush.length - 1);
        return argv;
    }

    /** Whether a target reply is {@link #commit}'s or {@link #slotCommit}'s refusal. */
    static boolean lost(String message) {
        return message != null && message.startsWith(MARK);
    }

    /** The failure a marked batch stops the worker with; {@code detail}: the command that failed, when one did. */
    static MigratorException failure(String plan, String message, String detail) {
        String why = message.substring(MARK.length());
        return new MigratorException(ErrorCode.TARGET_LOST, "migration " + plan + ": " + why + (detail == null ? "" : " (" + detail + ")")
                + "; the target's checkpoint is marked for a full resync", "find what reset, failed over or wrote to the target, then `migrator "
                + "run` again: it synchronises every key in full and removes keys the source no longer holds");
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
