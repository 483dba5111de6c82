package io.migrator.connectors.redis;

import io.migrator.core.cutover.Runbook;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.CutoverCheck;
import io.migrator.core.state.Phase;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Reverse replication after a Redis cutover: the new server's replication stream, read from the position recorded at the
 * cutover's fence ({@code PSYNC replid offset}), applied into the old source by a {@link RedisMigration} of the reversed
 * plan whose checkpoint lives on the old source. What that needs around the cutover is here.
 * <p>
 * A Redis master keeps no replication backlog until a replica first attaches, and its offset does not move without one:
 * a position read then could never be continued from. So before the freeze the cutover makes sure the server the traffic
 * moves to keeps one ({@link #ensureBacklog}: a replica's PSYNC, answered and closed at once; the server keeps the backlog
 * for repl-backlog-ttl). The position is read in one MULTI/EXEC with a write of a bookkeeping key in database 0
 * ({@link #position}), so the stream after it starts in database 0, or selects another one before its first command.
 */
final class RedisReverse {
    private static final Logger LOG = LoggerFactory.getLogger(RedisReverse.class);
    /** The checkpoint's field that holds the position a reverse direction was seeded from (which cutover it follows). */
    static final String FROM = "from";

    private RedisReverse() {
    }

    static String markKey(String plan) {
        return RedisCheckpoint.PREFIX + plan + ":mark";
    }

    /** The cutover preconditions of reverse replication: the target can be read by PSYNC, the old source written by migrator. */
    static List<CutoverCheck> checks(Plan plan, RespConnection target, CutoverCheck.Context context) {
        List<CutoverCheck> checks = new ArrayList<>();
        String direction = context.rollback() ? "the forward stream after the rollback" : "reverse replication";
        try {
            Map<String, String> server = RedisConnector.parseInfo(RedisCommandTable.text(RedisCutover.call(target, "INFO", "server")));
            Map<String, String> replication = RedisConnector.parseInfo(RedisCommandTable.text(RedisCutover.call(target, "INFO", "replication")));
            if (!"master".equals(replication.get("role"))) {
                checks.add(CutoverCheck.fail("reverse: role", "the target is a replica (" + replication.get("role") + "): " + direction
                        + " reads a primary's stream", "point the plan's target at the primary"));
            }
            String version = server.getOrDefault("redis_version", "0");
            if (RedisVersions.atLeast(version, 7, 0)) {
                String self = RedisCommandTable.text(RedisCutover.call(target, "ACL", "WHOAMI"));
                Object dry = target.execute(RedisTargetNodes.argv("ACL", "DRYRUN", self, "PSYNC", "?", "-1"));
                if (dry instanceof JedisDataException || !"OK".equals(RedisCommandTable.text(dry))) {
                    checks.add(CutoverCheck.fail("reverse: PSYNC", "migrator's user " + self + " may not read the target's replication "
                            + "stream (PSYNC): " + (dry instanceof JedisDataException e ? e.getMessage() : RedisCommandTable.text(dry))
                            + " — no rollback could carry the target's writes back", "allow it +psync +replconf on the target "
                            + "(a managed cache that refuses SYNC/PSYNC, as ElastiCache does, cannot be a reverse source: set rollback.cache: flush "
                            + "or keep)"));
                } else {
                    checks.add(CutoverCheck.pass("reverse: PSYNC", direction + " reads the target's stream as " + self));
                }
            } else {
                checks.add(CutoverCheck.warn("reverse: PSYNC", "Redis " + version + " has no ACL DRYRUN: whether migrator may PSYNC from "
                        + "the target is known only when " + direction + " starts", "make sure migrator's user may run PSYNC there"));
            }
            long backlog = Long.parseLong(replication.getOrDefault("repl_backlog_size", "0"));
            checks.add(backlog >= 16L << 20 ? CutoverCheck.pass("reverse: backlog", "repl-backlog-size " + (backlog >> 20) + " MB on the target")
                    : CutoverCheck.warn("reverse: backlog", "repl-backlog-size is " + (backlog >> 10) + " KB on the target: a worker restart "
                    + "longer than what it holds makes " + direction + " sync in full", "CONFIG SET repl-backlog-size 256mb on the target"));
        } catch (JedisDataException e) {
            checks.add(CutoverCheck.fail("reverse", "the target refused the reverse checks: " + e.getMessage(), "allow migrator's user INFO and "
                    + "ACL WHOAMI/DRYRUN on the target, or set cutover.reverse: false"));
        }
        // the old source becomes a target: migrator writes there what the new server takes
        Plan reversed = plan.reversed();
        try (Jedis old = RedisConnector.connect(plan.source(), Duration.ofSeconds(10))) {
            Assessment a = RedisPreflight.commands(reversed, old);
            String what = "reverse: writes on the " + (context.rollback() ? "new server" : "old source");
            checks.add(a.severity() == Assessment.Severity.FAIL ? CutoverCheck.fail(what, a.finding().replace("the target", "the "
                    + (context.rollback() ? "new server" : "old source")), a.remedy()) : CutoverCheck.pass(what, a.finding()
                    .replace("the target", "the " + (context.rollback() ? "new server" : "old source"))));
        } catch (JedisConnectionException | JedisDataException e) {
            checks.add(CutoverCheck.fail("reverse: old source", "the old source did not answer: " + e.getMessage(), "check the old source"));
        }
        return checks;
    }

    /** What the plan's rollback policy means, for the preconditions of a cutover ({@code rollback} false) and of a rollback. */
    static String policy(Plan plan, boolean rollback) {
        String cache = plan.cutover().rollbackCache();
        String what = "flush".equals(cache) ? "the old cache is emptied of the plan's keys before the freeze, and the application rebuilds "
                + "them" : "the old cache serves what it held at the cutover (stale values until they expire or are written)";
        return "rollback.cache: " + cache + " — no reverse stream" + (rollback ? "" : " after this cutover") + ": a rollback gives up "
                + "the new server's writes since the cutover; " + what + "; then the new server syncs in full from the old cache";
    }

    /**
     * A rollback under rollback.cache, before its freeze: {@code flush} removes the plan's keys (its databases, its key
     * patterns, never migrator's own) from the old cache with SCAN and UNLINK, so the application rebuilds them; {@code keep}
     * leaves it as it was at the cutover. {@code reversed}'s target is the old cache. What was done.
     */
    static String applyPolicy(Plan reversed) {
        if (!"flush".equals(reversed.cutover().rollbackCache())) {
            return "rollback.cache: keep — the old cache serves what it held at the cutover; the new server's writes since stay behind";
        }
        java.util.function.Predicate<byte[]> filter = RedisKeys.filter(reversed);
        long removed = 0;
        try (RespConnection c = RedisCutover.connect(reversed.target())) {
            for (int db : reversed.target().databases().isEmpty() ? List.of(0) : reversed.target().databases()) {
                RedisCutover.call(c, "SELECT", Integer.toString(db));
                byte[] cursor = bytes("0");
                do {
                    List<?> page = (List<?>) RedisCutover.call(c, "SCAN", new String(cursor, StandardCharsets.US_ASCII), "COUNT", "1000");
                    cursor = (byte[]) page.get(0);
                    List<byte[][]> unlinks = new ArrayList<>();
                    for (Object k : (List<?>) page.get(1)) {
                        byte[] key = (byte[]) k;
                        if (!RedisCheckpoint.bookkeeping(key) && filter.test(key)) {
                            unlinks.add(new byte[][] {bytes("UNLINK"), key});
                        }
                    }
                    for (byte[][] u : unlinks) {
                        RedisTargetNodes.send(c, u);
                    }
                    for (Object reply : unlinks.isEmpty() ? List.of() : c.getMany(unlinks.size())) {
                        if (reply instanceof JedisDataException e) {
                            throw e;
                        }
                    }
                    removed += unlinks.size();
                } while (!"0".equals(new String(cursor, StandardCharsets.US_ASCII)));
            }
        } catch (JedisConnectionException | JedisDataException e) {
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "emptying the old cache for the rollback (rollback.cache: flush) "
                    + "failed after " + removed + " key(s): " + e.getMessage(), "check the old cache and migrator's rights there (SCAN, "
                    + "UNLINK), then roll back again; nothing was frozen", e);
        }
        return "rollback.cache: flush — " + removed + " key(s) of databases " + reversed.target().databases() + " removed from the old cache "
                + "before the freeze; the application rebuilds them";
    }

    /** The server keeps a replication backlog (made by a replica's PSYNC, closed at once, when it has none); what was done. */
    static String ensureBacklog(Endpoint server) {
        try (RespConnection c = RedisCutover.connect(server)) {
            Map<String, String> info = RedisConnector.parseInfo(RedisCommandTable.text(RedisCutover.call(c, "INFO", "replication")));
            long size = Long.parseLong(info.getOrDefault("repl_backlog_size", "0"));
            if ("1".equals(info.get("repl_backlog_active"))) {
                return "the target keeps a replication backlog (" + (size >> 20) + " MB): the opposite stream can start at the fence";
            }
            try (RespConnection replica = RedisCutover.connect(server)) {
                Object reply = replica.execute(RedisTargetNodes.argv("PSYNC", "?", "-1"));
                if (reply instanceof JedisDataException e) {
                    throw e;
                }
            } // closed before the full sync's payload: the server keeps the backlog the attach made
            info = RedisConnector.parseInfo(RedisCommandTable.text(RedisCutover.call(c, "INFO", "replication")));
            if (!"1".equals(info.get("repl_backlog_active"))) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "the target keeps no replication backlog after a replica's PSYNC",
                        "check the target's repl-backlog-size, or set cutover.reverse: false");
            }
            return "the target had no replication backlog: made one (" + (size >> 20) + " MB) with a replica's PSYNC, so the opposite "
                    + "stream can start at the fence";
        } catch (JedisConnectionException | JedisDataException e) {
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "preparing the target's replication backlog failed: " + e.getMessage(),
                    "allow migrator's user PSYNC on the target, or set cutover.reverse: false; nothing was frozen", e);
        }
    }

    /** The server's replication id and offset, read in one MULTI/EXEC with a bookkeeping write in database 0. */
    static Optional<String> position(Endpoint server, String plan) {
        try (RespConnection c = RedisCutover.connect(server)) {
            c.send(RedisTargetNodes.argv("MULTI"));
            c.send(RedisTargetNodes.argv("SET", markKey(plan), Instant.now().toString()));
            c.send(RedisTargetNodes.argv("INFO", "replication"));
            c.send(RedisTargetNodes.argv("EXEC"));
            List<Object> replies = c.getMany(4);
            if (!(replies.get(3) instanceof List<?> exec) || exec.size() != 2 || exec.get(1) instanceof JedisDataException) {
                LOG.warn("could not read the target's replication position: {}", replies);
                return Optional.empty();
            }
            Map<String, String> info = RedisConnector.parseInfo(RedisCommandTable.text(exec.get(1)));
            if (!"1".equals(info.get("repl_backlog_active"))) {
                LOG.warn("the target keeps no replication backlog: no stream can continue from its position");
                return Optional.empty();
            }
            return Optional.of(info.get("master_replid") + ":" + info.get("master_repl_offset"));
        } catch (JedisConnectionException | JedisDataException e) {
            LOG.warn("could not read the target's replication position: {}", e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * A reverse direction's start on the old source: its checkpoint at {@code from} (the new server's position at the
     * cutover's fence), CATCH_UP, database 0; kept when it already follows this cutover (a restart), else made afresh.
     * Returns whether it was made now.
     */
    static boolean seed(Plan reversed, String from) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(reversed.target(), Duration.ofSeconds(10))) {
            byte[] key = bytes(RedisCheckpoint.key(reversed.name()));
            RespConnection node = nodes.node(nodes.slot(key));
            Object held = node.execute(new byte[][] {bytes("HGET"), key, bytes(FROM)});
            if (held instanceof byte[] b && from.equals(new String(b, StandardCharsets.UTF_8))) {
                return false;
            }
            int colon = from.lastIndexOf(':');
            RedisCheckpoint cp = new RedisCheckpoint(from.substring(0, colon), Long.parseLong(from.substring(colon + 1)), 0, Phase.CATCH_UP,
                    0, 0, "partial", Instant.now().toString());
            List<byte[][]> out = new ArrayList<>();
            out.add(RedisTargetNodes.argv("MULTI"));
            out.add(new byte[][] {bytes("DEL"), key, bytes(RedisCheckpoint.journalKey(reversed.name()))});
            out.add(cp.hset(reversed.name()));
            out.add(new byte[][] {bytes("HSET"), key, bytes(FROM), bytes(from)});
            out.add(new byte[][] {bytes("RPUSH"), bytes(RedisCheckpoint.journalKey(reversed.name())), bytes(Phase.CATCH_UP.name() + "|"
                    + Instant.now() + "|reverse replication from the cutover's fence at " + from)});
            out.add(RedisTargetNodes.argv("EXEC"));
            for (byte[][] argv : out) {
                RedisTargetNodes.send(node, argv);
            }
            for (Object reply : node.getMany(out.size())) {
                if (reply instanceof JedisDataException e) {
                    throw e;
                }
            }
            return true;
        }
    }

    /** The cutover state of a direction (its checkpoint's cutover field) on its target: "cut-over" after its cutover. */
    static String state(Plan plan) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            return RedisCutoverJournal.state(nodes.node(nodes.slot(bytes(RedisCheckpoint.key(plan.name())))), plan.name());
        }
    }

    /**
     * A rollback interrupted inside its freeze (its worker killed) left the new server paused, for an hour once past its
     * point of no return; the new server holds the forward migration's claim and checkpoint, so nothing could start. The
     * pause ends here, before anything else: the reverse direction's restart undoes the rollback (before its point of no
     * return) or freezes the new server again, fences and finishes it (after), as a cutover's restart does.
     */
    static void endInterruptedFreeze(Plan forward) {
        Plan reversed = forward.reversed();
        try {
            String state = state(reversed);
            if ("started".equals(state) || "no-return".equals(state)) {
                try (RespConnection c = RedisCutover.connect(forward.target())) {
                    RedisCutover.call(c, "CLIENT", "UNPAUSE");
                }
                LOG.warn("the rollback of {} was interrupted ({}): the new server's pause ended; {}", forward.name(), state,
                        "started".equals(state) ? "the rollback is undone" : "the rollback pauses it again, fences and finishes");
            }
        } catch (JedisConnectionException | JedisDataException e) {
            LOG.debug("could not read the reverse direction's state on the old source: {}", e.toString());
        }
    }

    /** Whether a direction has a checkpoint on its target. */
    static boolean exists(Plan plan) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            byte[] key = bytes(RedisCheckpoint.key(plan.name()));
            return nodes.node(nodes.slot(key)).execute(new byte[][] {bytes("EXISTS"), key}) instanceof Long n && n > 0;
        }
    }

    /** The last position a direction's cutover recorded for the stream after it (its journal's last REVERSE_FROM entry). */
    static Optional<String> recordedFrom(Plan plan) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            byte[] key = bytes(RedisCheckpoint.journalKey(plan.name()));
            Object reply = nodes.node(nodes.slot(key)).execute(new byte[][] {bytes("LRANGE"), key, bytes("0"), bytes("-1")});
            String found = null;
            if (reply instanceof List<?> entries) {
                for (Object e : entries) {
                    String[] parts = RedisCommandTable.text(e).split("\\|", 3);
                    if (parts.length == 3 && parts[2].startsWith(Runbook.STARTED)) {
                        found = null; // each cutover records its own
                    } else if (parts.length == 3 && parts[2].startsWith(Runbook.REVERSE_FROM)) {
                        found = parts[2].substring(Runbook.REVERSE_FROM.length());
                    }
                }
            }
            return Optional.ofNullable(found);
        }
    }

    /**
     * A direction's stream state removed from its target (checkpoint, journal, claim, mark); the rules its lasting freeze
     * kept stay until they are given back. What was removed.
     */
    static String forgetStream(Plan plan) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            long removed = 0;
            for (String key : List.of(RedisCheckpoint.key(plan.name()), RedisCheckpoint.journalKey(plan.name()), RedisWorkerLease.key(plan.name()),
                    markKey(plan.name()))) {
                byte[] k = bytes(key);
                if (nodes.node(nodes.slot(k)).execute(new byte[][] {bytes("DEL"), k}) instanceof Long n) {
                    removed += n;
                }
            }
            return removed + " bookkeeping key(s) of " + plan.name() + " on " + plan.target().address();
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
