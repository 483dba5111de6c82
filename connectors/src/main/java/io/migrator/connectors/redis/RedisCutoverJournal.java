package io.migrator.connectors.redis;

import io.migrator.core.cutover.Runbook;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.Phase;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * The Redis cutover's record on the target, on a connection of its own (the applier's belongs to the applier thread),
 * kept across the cutover's steps. Each entry goes into the journal list; the cutover's state — started, past the point
 * of no return, cut over — goes first into the checkpoint hash's own {@code cutover} field, which the applier's HSET never
 * touches and the journal's trim cannot drop: a restart reads the state from there ({@link #state}).
 */
final class RedisCutoverJournal implements AutoCloseable {
    private final Plan plan;
    private RedisTargetNodes nodes;

    RedisCutoverJournal(Plan plan) {
        this.plan = plan;
    }

    /** Writes one entry durably (one reconnect on a broken connection; a failure is thrown); returns its time. */
    synchronized String write(Phase p, String detail) {
        String at = Instant.now().toString();
        String state = detail.startsWith(Runbook.STARTED) ? "started" : Runbook.NO_RETURN.equals(detail) ? "no-return"
                : p == Phase.CUT_OVER ? "cut-over" : p == Phase.STREAMING || p == Phase.ROLLED_BACK ? "" : null;
        for (int attempt = 0; ; attempt++) {
            try {
                if (nodes == null) {
                    nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10));
                }
                if (state != null) {
                    byte[] cp = bytes(RedisCheckpoint.key(plan.name()));
                    check(nodes.node(nodes.slot(cp)).execute(state.isEmpty() ? new byte[][] {bytes("HDEL"), cp, bytes("cutover")}
                            : new byte[][] {bytes("HSET"), cp, bytes("cutover"), bytes(state)}));
                }
                byte[] key = bytes(RedisCheckpoint.journalKey(plan.name()));
                RespConnection node = nodes.node(nodes.slot(key));
                RedisTargetNodes.send(node, new byte[][] {bytes("RPUSH"), key, bytes(p.name() + "|" + at + "|" + detail)});
                RedisTargetNodes.send(node, new byte[][] {bytes("LTRIM"), key, bytes("-100"), bytes("-1")});
                for (Object reply : node.getMany(2)) {
                    check(reply);
                }
                return at;
            } catch (JedisConnectionException e) {
                close();
                if (attempt > 0) {
                    throw failed(e);
                }
            } catch (JedisDataException e) {
                throw failed(e);
            }
        }
    }

    /** The cutover state a restart finds in the checkpoint hash: "started", "no-return", "cut-over", or null. */
    static String state(RespConnection node, String plan) {
        Object reply = node.execute(new byte[][] {bytes("HGET"), bytes(RedisCheckpoint.key(plan)), bytes("cutover")});
        return reply instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : null;
    }

    private static void check(Object reply) {
        if (reply instanceof JedisDataException e) {
            throw e;
        }
    }

    private static MigratorException failed(RuntimeException e) {
        return new MigratorException(ErrorCode.CUTOVER_FAILED, "journaling the cutover on the target failed: " + e.getMessage(),
                "check the target, then `migrator cutover PLAN` again", e);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void close() {
        if (nodes != null) {
            nodes.close();
            nodes = null;
        }
    }
}
