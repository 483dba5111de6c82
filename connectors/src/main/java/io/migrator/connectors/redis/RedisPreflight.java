package io.migrator.connectors.redis;

import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.Role;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * What `migrator plan check` verifies on Redis servers. Source: PSYNC and REPLCONF available to the plan's user (not
 * renamed, not denied by an ACL), the replication backlog against the write rate measured now (a restart of the worker must
 * fit in it, or it costs a full resync), loaded modules. Target: a version that can RESTORE the source's payloads, memory
 * room for the source's data, an eviction policy that keeps every key, the plan's databases empty or already this
 * migration's, a healthy cluster.
 */
final class RedisPreflight {
    /** A worker restart (or a short target outage) must fit in the backlog: below this, plan check warns. */
    static final double MIN_BACKLOG_SECONDS = 60;

    private RedisPreflight() {
    }

    static List<Assessment> check(Plan plan, Role role, Duration timeout) {
        Endpoint endpoint = role == Role.SOURCE ? plan.source() : plan.target();
        try (Jedis jedis = RedisConnector.connect(endpoint, timeout)) {
            return role == Role.SOURCE ? source(plan, jedis) : target(plan, jedis);
        }
    }

    private static List<Assessment> source(Plan plan, Jedis jedis) {
        List<Assessment> out = new ArrayList<>();
        Role r = Role.SOURCE;
        for (String command : List.of("psync", "replconf")) {
            List<?> info = (List<?>) jedis.sendCommand(redis.clients.jedis.Protocol.Command.COMMAND, "INFO", command);
            if (info.isEmpty() || info.get(0) == null) {
                out.add(Assessment.fail(r, command.toUpperCase() + " available", command.toUpperCase() + " is renamed or disabled on the source "
                        + "(rename-command)", "migrator connects as a replica: restore " + command.toUpperCase() + " in the source's "
                        + "redis.conf (managed services: use a self-managed replica of the source as the migration's source)"));
            }
        }
        String user = plan.source().user().isEmpty() ? "default" : plan.source().user();
        try {
            List<String> denied = new ArrayList<>();
            for (String command : List.of("PSYNC", "REPLCONF")) {
                Object reply = jedis.sendCommand(redis.clients.jedis.Protocol.Command.ACL, "DRYRUN", user, command,
                        command.equals("PSYNC") ? "?" : "ack", command.equals("PSYNC") ? "-1" : "0");
                String answer = RedisCommandTable.text(reply);
                if (!"OK".equals(answer)) {
                    denied.add(answer); // "This user has no permissions to run the 'psync' command"
                }
            }
            if (denied.isEmpty()) {
                out.add(Assessment.ok(r, "replication rights", "user " + user + " may run PSYNC and REPLCONF"));
            } else {
                out.add(Assessment.fail(r, "replication rights", "user " + user + " may not replicate: " + String.join("; ", denied),
                        "ACL SETUSER " + user + " +psync +replconf +ping +command|info +info"));
            }
        } catch (JedisDataException e) {
            String message = e.getMessage() == null ? "" : e.getMessage();
            if (message.contains("unknown") || message.contains("wrong number")) {
                out.add(Assessment.ok(r, "replication rights", "not checked: the source has no ACL DRYRUN (before Redis 7)"));
            } else {
                out.add(Assessment.fail(r, "replication rights", "user " + user + " may not replicate: " + message,
                        "ACL SETUSER " + user + " +psync +replconf +ping +command|info +info"));
            }
        }
        Map<String, String> replication = RedisConnector.parseInfo(jedis.info("replication"));
        long backlog = Long.parseLong(replication.getOrDefault("repl_backlog_size", "0"));
        // the server's own rate of client input over its last 1.6 s (INFO stats, sampled ten times a second) bounds the
        // write rate, replica attached or not, and costs no wait: `migrator run` starts right after the preflight
        double rate = Double.parseDouble(RedisConnector.parseInfo(jedis.info("stats")).getOrDefault("instantaneous_input_kbps", "0")) * 1024;
        if (rate < 1) {
            out.add(Assessment.ok(r, "replication backlog", "repl-backlog-size " + mb(backlog) + "; no client input in the last seconds"));
        } else {
            double seconds = backlog / rate;
            String finding = "repl-backlog-size " + mb(backlog) + " holds " + Math.round(seconds) + " s of writes at the current "
                    + mb((long) rate) + "/s (estimated from the server's client input)";
            if (seconds < MIN_BACKLOG_SECONDS) {
                out.add(Assessment.warn(r, "replication backlog", finding + ": a worker restart longer than that costs a full resync",
                        "CONFIG SET repl-backlog-size " + Math.max(backlog * 2, (long) (rate * 600)) + " (10 minutes of writes)"));
            } else {
                out.add(Assessment.ok(r, "replication backlog", finding));
            }
        }
        Map<String, String> modules = RedisConnector.parseInfo(jedis.info("modules"));
        if (!modules.isEmpty()) {
            out.add(Assessment.warn(r, "modules", "the source loads modules " + modules.keySet() + ": keys of module types restore only where "
                    + "the same modules are loaded", "load the same modules on the target, or exclude those keys with keys.exclude"));
        }
        Map<String, String> keyspace = RedisConnector.parseInfo(jedis.info("keyspace"));
        List<Integer> dbs = plan.source().databases().isEmpty() ? List.of(0) : plan.source().databases();
        for (String db : keyspace.keySet()) {
            int n = Integer.parseInt(db.substring(2));
            if (!dbs.contains(n)) {
                out.add(Assessment.warn(r, "databases", "database " + n + " holds " + keyspace.get(db).replaceAll("^keys=(\\d+).*$", "$1")
                        + " keys but is not in "
                        + "source.databases " + dbs + ": it stays behind", "add " + n + " to source.databases if it should move"));
            }
        }
        return out;
    }

    /**
     * The commands the applier sends on the target: present (not renamed or disabled by rename-command) and allowed to the
     * plan's target user. Every stream batch is a MULTI ... EXEC opened and closed by an EVAL script that checks the target
     * still holds what was applied (RedisContinuity); the full sync uses SET and MSET for strings, RESTORE for other types;
     * the checkpoint is a hash.
     */
    static Assessment commands(Plan plan, Jedis jedis) {
        Role r = Role.TARGET;
        List<String> needed = new ArrayList<>(List.of("RESTORE", "SET", "MSET", "MULTI", "EXEC", "EVAL", "HSET", "HGETALL", "DEL", "UNLINK", "SCAN", "INFO"));
        if (!plan.target().cluster()) {
            needed.add("SELECT");
        }
        List<String> missing = new ArrayList<>();
        for (String command : needed) {
            List<?> info = (List<?>) jedis.sendCommand(redis.clients.jedis.Protocol.Command.COMMAND, "INFO", command.toLowerCase(java.util.Locale.ROOT));
            if (info.isEmpty() || info.get(0) == null) {
                missing.add(command);
            }
        }
        if (!missing.isEmpty()) {
            return Assessment.fail(r, "commands", "the target lacks " + String.join(", ", missing) + " (renamed or disabled with rename-command)",
                    "restore them in the target's configuration: migrator copies keys with SET, MSET and RESTORE and applies each batch as MULTI ... "
                            + "EXEC with a small EVAL script that checks the target still holds what was applied");
        }
        String user = plan.target().user().isEmpty() ? "default" : plan.target().user();
        List<String> denied = new ArrayList<>();
        try {
            for (String command : needed) {
                String[] args = switch (command) {
                    case "RESTORE" -> new String[] {"__migrator__:k", "0", "x"};
                    case "SET", "MSET" -> new String[] {"__migrator__:k", "v"};
                    case "EVAL" -> new String[] {"return 1", "0"};
                    case "HSET" -> new String[] {"__migrator__:k", "f", "v"};
                    case "HGETALL", "DEL", "UNLINK" -> new String[] {"__migrator__:k"};
                    case "SCAN", "SELECT" -> new String[] {"0"};
                    default -> new String[0];
                };
                String[] argv = new String[args.length + 3];
                argv[0] = "DRYRUN";
                argv[1] = user;
                argv[2] = command;
                System.arraycopy(args, 0, argv, 3, args.length);
                String answer = RedisCommandTable.text(jedis.sendCommand(redis.clients.jedis.Protocol.Command.ACL, argv));
                if (!"OK".equals(answer)) {
                    denied.add(command);
                }
            }
        } catch (JedisDataException e) {
            return Assessment.ok(r, "commands", String.join(", ", needed) + " present; the user's rights not checked (" + e.getMessage() + ")");
        }
        if (!denied.isEmpty()) {
            return Assessment.fail(r, "commands", "user " + user + " may not run " + String.join(", ", denied) + " on the target",
                    "ACL SETUSER " + user + " " + String.join(" ", denied.stream().map(c -> "+" + c.toLowerCase(java.util.Locale.ROOT)).toList()));
        }
        return Assessment.ok(r, "commands", "the target has and allows " + String.join(", ", needed));
    }

    /**
     * Which rollback the plan gets after a cutover: reverse replication (it reads the target by PSYNC, which a managed
     * cache may refuse), the plan's rollback.cache policy, or none.
     */
    static Assessment rollback(Plan plan, Jedis target) {
        Role r = Role.TARGET;
        if (plan.cutover().reverse()) {
            String user = plan.target().user().isEmpty() ? "default" : plan.target().user();
            try {
                String answer = RedisCommandTable.text(target.sendCommand(redis.clients.jedis.Protocol.Command.ACL, "DRYRUN", user, "PSYNC",
                        "?", "-1"));
                if (!"OK".equals(answer)) {
                    return Assessment.fail(r, "rollback", "reverse replication after the cutover reads the target by PSYNC, which user "
                            + user + " may not run there (" + answer + "): no rollback could carry the new server's writes back",
                            "allow it +psync +replconf on the target; for a managed cache that refuses PSYNC (ElastiCache) set "
                                    + "rollback.cache: flush or keep");
                }
            } catch (JedisDataException e) {
                // no ACL DRYRUN (before 7.0): the cutover's preconditions find out
            }
            return Assessment.ok(r, "rollback", "reverse replication after the cutover (PSYNC on the target): `migrator rollback` carries "
                    + "the new server's writes back");
        }
        if (!plan.cutover().rollbackCache().isEmpty()) {
            return Assessment.ok(r, "rollback", RedisReverse.policy(plan, false));
        }
        return Assessment.ok(r, "rollback", "none after the cutover: cutover.reverse is off (" + (plan.target().cluster() ? "a cluster target"
                : plan.cutover().applicationUsers().isEmpty() ? "no cutover.applicationUsers" : "cutover.reverse: false")
                + ") and no rollback.cache is set");
    }

    private static List<Assessment> target(Plan plan, Jedis jedis) {
        List<Assessment> out = new ArrayList<>();
        Role r = Role.TARGET;
        out.add(commands(plan, jedis));
        out.add(rollback(plan, jedis));
        String targetVersion = RedisConnector.parseInfo(jedis.info("server")).getOrDefault("redis_version", "0");
        String sourceVersion;
        long sourceData;
        try (Jedis source = RedisConnector.connect(plan.source(), Duration.ofSeconds(10))) {
            sourceVersion = RedisConnector.parseInfo(source.info("server")).getOrDefault("redis_version", "0");
            Map<String, String> memory = RedisConnector.parseInfo(source.info("memory"));
            sourceData = Long.parseLong(memory.getOrDefault("used_memory_dataset", memory.getOrDefault("used_memory", "0")));
        } catch (RuntimeException e) {
            return out; // the source's own assessments report it
        }
        int targetRdb = RedisVersions.rdbVersion(targetVersion);
        int sourceRdb = RedisVersions.rdbVersion(sourceVersion);
        if (targetRdb < 9) {
            out.add(Assessment.fail(r, "version", "the target runs Redis " + targetVersion + ": RESTORE ... ABSTTL needs 5.0 or later",
                    "use Redis 5.0 or later on the target (ElastiCache: engine version 5.0.6+)"));
        } else if (targetRdb < sourceRdb) {
            out.add(Assessment.warn(r, "version", "the target runs Redis " + targetVersion + ", older than the source's " + sourceVersion
                    + ": payloads are re-encoded for RDB " + targetRdb + "; commands newer than " + targetVersion + " stop the stream",
                    "prefer a target at least as new as the source"));
        } else {
            out.add(Assessment.ok(r, "version", "Redis " + targetVersion + " (source " + sourceVersion + ")"));
        }
        Map<String, String> memory = RedisConnector.parseInfo(jedis.info("memory"));
        long max = Long.parseLong(memory.getOrDefault("maxmemory", "0"));
        long used = Long.parseLong(memory.getOrDefault("used_memory", "0"));
        String policy = memory.getOrDefault("maxmemory_policy", "noeviction");
        if (max > 0 && max - used < sourceData) {
            out.add(Assessment.fail(r, "memory", "the target has " + mb(max - used) + " left under maxmemory " + mb(max) + ", the source's data "
                    + "takes " + mb(sourceData), "give the target more memory (a larger node type or more shards)"));
        } else {
            out.add(Assessment.ok(r, "memory", (max == 0 ? "no maxmemory" : mb(max - used) + " free under maxmemory") + "; the source's data "
                    + "takes " + mb(sourceData)));
        }
        if (!"noeviction".equals(policy) && max > 0) {
            out.add(Assessment.warn(r, "eviction", "maxmemory-policy " + policy + ": the target may evict migrated keys when full",
                    "set maxmemory-policy noeviction for the migration (ElastiCache: in the parameter group)"));
        }
        if (plan.target().cluster()) {
            String state = RedisConnector.parseInfo(jedis.clusterInfo()).getOrDefault("cluster_state", "unknown");
            if (!"ok".equals(state)) {
                out.add(Assessment.fail(r, "cluster", "cluster_state is " + state, "fix the cluster (all slots served) first"));
            }
        }
        List<Integer> dbs = plan.source().databases().isEmpty() ? List.of(0) : plan.source().databases();
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            if (RedisStoredState.hasCheckpoint(nodes, plan.name())) {
                out.add(Assessment.ok(r, "empty target", "the target holds this migration's checkpoint: `migrator run` resumes it"));
            } else {
                String occupied = RedisStoredState.occupied(nodes, dbs);
                if (occupied != null) {
                    out.add(Assessment.fail(r, "empty target", "the target " + occupied,
                            "migrate into empty databases: FLUSHDB them if their keys are disposable, or choose another target"));
                } else {
                    out.add(Assessment.ok(r, "empty target", "the plan's databases are empty"));
                }
            }
        }
        return out;
    }

    private static String mb(long bytes) {
        return bytes >= 1 << 20 ? Math.round(bytes / 1048576.0) + " MB" : Math.round(bytes / 1024.0) + " KB";
    }
}
