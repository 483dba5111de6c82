package io.migrator.connectors.redis;

import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.SwitchStep;
import io.migrator.core.spi.CutoverCheck;
import io.migrator.core.spi.CutoverSource;
import io.migrator.core.spi.CutoverTarget;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * The cutover's Redis parts. The freeze is {@code CLIENT PAUSE <ms> WRITE}, sent in one MULTI/EXEC with
 * {@code INFO replication}, so the fence offset is read atomically with the pause (no marker key: the pause would block
 * its write); the pause lapses on its own if migrator dies, after the budget and a margin. The lasting freeze takes the
 * write commands from the application's ACL users on the old source ({@code -@write}); their rules before it are kept on
 * the target ({@code __migrator__:PLAN:acl}) and given back by `complete` (or an abort). Redis has no triggers and no
 * sequences: the opening has nothing to do.
 */
final class RedisCutover {
    /** How much longer than the cutover's budget a CLIENT PAUSE lasts: it must not lapse before the lasting freeze. */
    private static final Duration PAUSE_MARGIN = Duration.ofSeconds(10);
    /**
     * Past the point of no return the old source's pause is renewed for this long: the traffic is leaving it, and a switch
     * step that failed may be run again later; `complete` ends it (CLIENT UNPAUSE).
     */
    static final Duration PAUSE_AFTER_NO_RETURN = Duration.ofHours(1);

    private RedisCutover() {
    }

    static String aclKey(String plan) {
        return RedisCheckpoint.PREFIX + plan + ":acl";
    }

    static RespConnection connect(Endpoint e) {
        return new RespConnection(e.host(), e.port(), e.user(), e.password().isEmpty() ? null : e.password().reveal(), 10_000, e.tls());
    }

    /** One command; an error reply is thrown as {@link JedisDataException}. */
    static Object call(RespConnection c, String... argv) {
        Object reply = c.execute(RedisTargetNodes.argv(argv));
        if (reply instanceof JedisDataException e) {
            throw e;
        }
        return reply;
    }

    /** The rules of an ACL user as ACL LIST shows them after "user NAME"; empty when there is no such user. */
    static Optional<String> rules(RespConnection c, String user) {
        for (Object line : (List<?>) call(c, "ACL", "LIST")) {
            String text = RedisCommandTable.text(line);
            String prefix = "user " + user + " ";
            if (text.startsWith(prefix)) {
                return Optional.of(text.substring(prefix.length()));
            }
        }
        return Optional.empty();
    }

    /** The source side: the pause, the fence offset, the ACL lasting freeze. */
    static final class Source implements CutoverSource {
        private final Plan plan;
        /** The server this runbook freezes for good, as messages name it: the old source, or the new server for a rollback. */
        private final String frozen;
        private volatile long fenceOffset = -1;

        Source(Plan plan) {
            this(plan, false);
        }

        Source(Plan plan, boolean rollback) {
            this.plan = plan;
            this.frozen = rollback ? "the new server" : "the old source";
        }

        @Override
        public List<CutoverCheck> cutoverChecks(CutoverCheck.Context context) {
            List<CutoverCheck> checks = new ArrayList<>();
            try (RespConnection c = connect(plan.source())) {
                Map<String, String> server = RedisConnector.parseInfo(RedisCommandTable.text(call(c, "INFO", "server")));
                String version = server.getOrDefault("redis_version", "0");
                if ("client-pause".equals(plan.cutover().freeze())) {
                    checks.add(RedisVersions.atLeast(version, 6, 2) ? CutoverCheck.pass("freeze", "CLIENT PAUSE WRITE and CLIENT UNPAUSE (Redis "
                            + version + ")") : CutoverCheck.fail("freeze", "Redis " + version + " has no CLIENT PAUSE WRITE / CLIENT UNPAUSE (6.2+)",
                            "freeze with a command (cutover.freeze: command) on this source, or upgrade it"));
                }
                String self = RedisCommandTable.text(call(c, "ACL", "WHOAMI"));
                boolean manages;
                try {
                    call(c, "ACL", "LIST");
                    // ACL LIST allowed is not ACL SETUSER allowed: on 7.0+ the server says which (ACL DRYRUN)
                    manages = !RedisVersions.atLeast(version, 7, 0) || "OK".equals(RedisCommandTable.text(call(c, "ACL", "DRYRUN", self, "ACL",
                            "SETUSER", "migrator-dryrun")));
                } catch (JedisDataException e) {
                    manages = false;
                }
                if (context.applicationUsers().isEmpty()) {
                    checks.add(CutoverCheck.warn("lasting freeze", "cutover.applicationUsers names no ACL user: the old source takes writes again "
                            + "when the pause lapses (the budget and " + PAUSE_MARGIN.toSeconds() + " s)", "give the application an ACL user of its own "
                            + "and name it in cutover.applicationUsers"));
                } else if (!manages) {
                    checks.add(CutoverCheck.fail("lasting freeze privilege", "migrator's user " + self + " may not manage ACL users (ACL LIST / "
                            + "ACL SETUSER)", "allow it +acl (or +@admin) on the source"));
                }
                for (String user : context.applicationUsers()) {
                    String name = "application user " + user;
                    if (user.equals("default")) {
                        checks.add(CutoverCheck.fail(name, "the default user is every connection that does not say who it is (migrator's own, "
                                + "when it logs in without a user): taking its writes would take them from everyone", "create an ACL user for the "
                                + "application (ACL SETUSER app on >PASSWORD ~* &* +@all on both servers), let it log in as that user "
                                + "(AUTH app PASSWORD), and name it in cutover.applicationUsers"));
                    } else if (user.equals(self)) {
                        checks.add(CutoverCheck.fail(name, "is migrator's own user: taking its writes would stop migrator", "give the application "
                                + "an ACL user of its own"));
                    } else if (manages && rules(c, user).isEmpty()) {
                        checks.add(CutoverCheck.fail(name, "does not exist on the source (ACL LIST)", "name the application's ACL users"));
                    } else {
                        checks.add(CutoverCheck.pass(name, "exists on the source"));
                    }
                }
            } catch (JedisConnectionException | JedisDataException e) {
                checks.add(CutoverCheck.fail("source", "the source did not answer the cutover checks: " + e.getMessage(), "check the source"));
            }
            return checks;
        }

        @Override
        public void freezeWrites(Duration lockWait) {
            freezeWrites(lockWait, plan.cutover().maxDowntime());
        }

        /** CLIENT PAUSE WRITE for the hold and a margin, with the replication offset read in the same MULTI/EXEC. */
        @Override
        public void freezeWrites(Duration lockWait, Duration hold) {
            fenceOffset = -1;
            pause(hold.plus(PAUSE_MARGIN), true);
        }

        /** The pause renewed for {@link #PAUSE_AFTER_NO_RETURN}: CLIENT PAUSE again replaces the running one. */
        @Override
        public void keepFrozen() {
            try {
                pause(PAUSE_AFTER_NO_RETURN, false);
            } catch (MigratorException e) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, e.getMessage(), "check the source, then `migrator cutover PLAN` again: it "
                        + "goes on from the switch", e);
            }
        }

        private void pause(Duration length, boolean readOffset) {
            long millis = length.toMillis();
            try (RespConnection c = connect(plan.source())) {
                c.send(RedisTargetNodes.argv("MULTI"));
                c.send(RedisTargetNodes.argv("CLIENT", "PAUSE", Long.toString(millis), "WRITE"));
                c.send(RedisTargetNodes.argv("INFO", "replication"));
                c.send(RedisTargetNodes.argv("EXEC"));
                List<Object> replies = c.getMany(4);
                if (!(replies.get(3) instanceof List<?> exec) || exec.size() != 2 || exec.get(0) instanceof JedisDataException) {
                    throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "the source refused CLIENT PAUSE: " + replies, "allow migrator's user "
                            + "+client|pause on the source");
                }
                if (readOffset) {
                    Map<String, String> info = RedisConnector.parseInfo(RedisCommandTable.text(exec.get(1)));
                    fenceOffset = Long.parseLong(info.getOrDefault("master_repl_offset", "-1"));
                }
            } catch (JedisConnectionException e) {
                throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "pausing the source's writes failed: " + e.getMessage(), "check the source, "
                        + "then cut over again", e);
            }
        }

        @Override
        public void unfreezeWrites() {
            try (RespConnection c = connect(plan.source())) {
                call(c, "CLIENT", "UNPAUSE");
            } catch (JedisConnectionException | JedisDataException e) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, "CLIENT UNPAUSE on the source failed: " + e.getMessage() + " (the pause "
                        + "lapses on its own within the budget and " + PAUSE_MARGIN.toSeconds() + " s)", "run CLIENT UNPAUSE on the source", e);
            }
        }

        /** The replication offset read with the pause: the target holds every acknowledged write once its applier passed it. */
        @Override
        public SourcePosition positionInFreeze() {
            long offset = fenceOffset;
            fenceOffset = -1; // one freeze, one fence
            if (offset < 0) {
                // freeze: command — the writes are stopped by the user's program: the offset read now is past every one of them
                try (RespConnection c = connect(plan.source())) {
                    offset = Long.parseLong(RedisConnector.parseInfo(RedisCommandTable.text(call(c, "INFO", "replication")))
                            .getOrDefault("master_repl_offset", "-1"));
                } catch (JedisConnectionException | JedisDataException e) {
                    throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "reading the source's replication offset inside the freeze failed: "
                            + e.getMessage(), "check the source, then cut over again", e);
                }
            }
            return new SourcePosition(Long.toString(offset));
        }

        /**
         * Each application user loses its write commands on the old source ({@code -@write}); its rules before are kept on
         * the target first (never overwritten: a second run must not keep the already restricted ones).
         */
        @Override
        public String freezeLasting(List<String> users) {
            if (users.isEmpty()) {
                return "no cutover.applicationUsers: the old source takes writes again when the pause lapses (warning)";
            }
            List<String> done = new ArrayList<>();
            try (RespConnection c = connect(plan.source()); RedisTargetNodes target = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
                byte[] key = aclKey(plan.name()).getBytes(StandardCharsets.UTF_8);
                RespConnection node = target.node(target.slot(key));
                for (String user : users) {
                    String before = rules(c, user).orElseThrow(() -> new MigratorException(ErrorCode.CUTOVER_FAILED, "the ACL user " + user
                            + " is gone from " + frozen, "recreate it or remove it from cutover.applicationUsers, then cut over again"));
                    Object kept = node.execute(new byte[][] {bytes("HSETNX"), key, bytes(user), bytes(before)});
                    if (kept instanceof JedisDataException e) {
                        throw e;
                    }
                    if (RedisVersions.atLeast(RedisConnector.parseInfo(RedisCommandTable.text(call(c, "INFO", "server")))
                            .getOrDefault("redis_version", "0"), 7, 0)) {
                        call(c, "ACL", "SETUSER", user, "clearselectors", "-@write"); // a selector (...) could grant writes on its own
                    } else {
                        call(c, "ACL", "SETUSER", user, "-@write");
                    }
                    done.add(user);
                }
            } catch (JedisConnectionException | JedisDataException e) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, "taking the application's writes on " + frozen + " failed after "
                        + done + ": " + e.getMessage(), "fix the cause, then `migrator cutover PLAN` again: it goes on from here", e);
            }
            String taken = "write commands taken from " + String.join(", ", done) + " on " + frozen + " (ACL -@write); migrator keeps its own";
            // the users' ACL now holds their writes: the pause (which stops every client's writes, migrator's too) ends, so
            // reverse replication, a rollback's flush of the old cache (rollback.cache) or the forward stream can write here
            try (RespConnection c = connect(plan.source())) {
                call(c, "CLIENT", "UNPAUSE");
            } catch (JedisConnectionException | JedisDataException e) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, "ending the pause of " + frozen + " failed: " + e.getMessage(),
                        "run CLIENT UNPAUSE on " + frozen + " (its application users can no longer write there)", e);
            }
            return taken + "; its pause ended (the users' ACL holds their writes)";
        }

        @Override
        public String unfreezeLasting(List<String> users) {
            return restoreAcl(plan);
        }
    }

    /** What is left of the cutover's pause on the old source ended (complete after a cutover). */
    static String unpause(Plan plan) {
        try (RespConnection c = connect(plan.source())) {
            call(c, "CLIENT", "UNPAUSE");
            return "CLIENT UNPAUSE on the old source";
        } catch (JedisConnectionException | JedisDataException e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "CLIENT UNPAUSE on the old source failed: " + e.getMessage(),
                    "run CLIENT UNPAUSE there by hand (the pause lapses within an hour of the cutover on its own)", e);
        }
    }

    /** The rules kept on the target given back to each user on the old source, then forgotten. Idempotent. */
    static String restoreAcl(Plan plan) {
        return restoreAcl(plan, true);
    }

    /**
     * The rules kept on the plan's target given back to each user on its source; {@code forget}: the kept rules removed
     * after. A cutover's admit step keeps them: the server they are kept on is paused then (it takes no write), and the
     * direction that streams next removes them ({@link #forgetAcl}).
     */
    static String restoreAcl(Plan plan, boolean forget) {
        List<String> restored = new ArrayList<>();
        try (RedisTargetNodes target = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            byte[] key = aclKey(plan.name()).getBytes(StandardCharsets.UTF_8);
            RespConnection node = target.node(target.slot(key));
            Object all = node.execute(new byte[][] {bytes("HGETALL"), key});
            if (!(all instanceof List<?> pairs) || pairs.isEmpty()) {
                return "no ACL user to give its writes back";
            }
            try (RespConnection c = connect(plan.source())) {
                for (int i = 0; i + 1 < pairs.size(); i += 2) {
                    String user = RedisCommandTable.text(pairs.get(i));
                    List<String> argv = new ArrayList<>(List.of("ACL", "SETUSER", user, "reset"));
                    argv.addAll(aclTokens(RedisCommandTable.text(pairs.get(i + 1))));
                    call(c, argv.toArray(new String[0]));
                    if (forget) {
                        node.execute(new byte[][] {bytes("HDEL"), key, bytes(user)});
                    }
                    restored.add(user);
                }
            }
        } catch (JedisConnectionException | JedisDataException e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "giving the application's ACL users their rules back failed after " + restored
                    + ": " + e.getMessage(), "run the same command again once the old source answers (the rules stay kept on the target)", e);
        }
        return "ACL rules restored for " + String.join(", ", restored) + " on " + (plan.name().endsWith(Plan.REVERSE_SUFFIX)
                ? "the new server" : "the old source");
    }

    /** The rules a lasting freeze of {@code plan} kept (on its target), removed once they were given back. */
    static void forgetAcl(Plan plan) {
        try (RedisTargetNodes target = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            byte[] key = aclKey(plan.name()).getBytes(StandardCharsets.UTF_8);
            Object reply = target.node(target.slot(key)).execute(new byte[][] {bytes("DEL"), key});
            if (reply instanceof JedisDataException e) {
                throw e;
            }
        }
    }

    /** The rules of an ACL LIST line as ACL SETUSER takes them: split on spaces, a selector "(...)" kept whole. */
    static List<String> aclTokens(String rules) {
        List<String> tokens = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        int depth = 0;
        for (char ch : rules.trim().toCharArray()) {
            if (ch == '(') {
                depth++;
            } else if (ch == ')') {
                depth = Math.max(0, depth - 1);
            }
            if (ch == ' ' && depth == 0) {
                if (current.length() > 0) {
                    tokens.add(current.toString());
                    current.setLength(0);
                }
            } else {
                current.append(ch);
            }
        }
        if (current.length() > 0) {
            tokens.add(current.toString());
        }
        return tokens;
    }

    /** The target side: nothing to open; a cluster behind a TCP proxy refused; the application's users must exist. */
    static final class Target implements CutoverTarget {
        private final Plan plan;
        /** The direction that streams out of this target after the switch (reverse after a cutover, forward after a rollback). */
        private final Plan opposite;

        Target(Plan plan, String oppositeName) {
            this.plan = plan;
            this.opposite = plan.reversed(oppositeName);
        }

        @Override
        public List<CutoverCheck> cutoverChecks(CutoverCheck.Context context) {
            List<CutoverCheck> checks = new ArrayList<>();
            boolean proxy = plan.cutover().switchSteps().stream().anyMatch(s -> s instanceof SwitchStep.Haproxy);
            if (plan.target().cluster() && proxy) {
                checks.add(CutoverCheck.fail("switch", "the target is a Redis Cluster: behind a TCP proxy its clients are sent MOVED to the nodes' "
                        + "own addresses, so the proxy does not carry them", "switch with a command or http step that gives the application the "
                        + "cluster's seed nodes (its configuration, or DNS)"));
            }
            try (RedisTargetNodes target = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
                RespConnection node = target.node(0);
                for (String user : context.applicationUsers()) {
                    if (user.equals("default")) {
                        continue; // refused on the source side
                    }
                    boolean exists;
                    try {
                        exists = rules(node, user).isPresent();
                    } catch (JedisDataException e) {
                        checks.add(CutoverCheck.warn("application user " + user + " on the target", "migrator may not read the target's ACL "
                                + "users: " + e.getMessage(), "make sure the application's user exists on the target"));
                        continue;
                    }
                    checks.add(exists ? CutoverCheck.pass("application user " + user + " on the target", "exists")
                            : CutoverCheck.fail("application user " + user + " on the target", "does not exist on the target (ACL users are not "
                            + "replicated): the application could not log in after the switch", "ACL SETUSER " + user + " on the target with its "
                            + "rules on the source (ACL LIST there)"));
                }
                if (plan.cutover().reverse()) {
                    checks.addAll(RedisReverse.checks(plan, node, context));
                } else if (!plan.cutover().rollbackCache().isEmpty()) {
                    checks.add(CutoverCheck.pass("rollback", RedisReverse.policy(plan, context.rollback())));
                }
            } catch (JedisConnectionException e) {
                checks.add(CutoverCheck.fail("target", "the target did not answer the cutover checks: " + e.getMessage(), "check the target"));
            }
            return checks;
        }

        /** Before the freeze: the target keeps a replication backlog, so the opposite direction can PSYNC from the fence. */
        @Override
        public String prepareReverse(String oppositeDirection) {
            if (plan.cutover().reverse()) {
                return RedisReverse.ensureBacklog(plan.target());
            }
            // a rollback under rollback.cache (this plan is the reverse one: its target is the old cache), before its freeze
            return plan.cutover().rollbackCache().isEmpty() ? "" : RedisReverse.applyPolicy(plan);
        }

        /** The target's replication id and offset, read in one MULTI/EXEC with a write in database 0 (RedisReverse says why). */
        @Override
        public Optional<String> reversePosition() {
            if (plan.target().cluster() || !plan.cutover().reverse()) {
                return Optional.empty();
            }
            return RedisReverse.position(plan.target(), plan.name());
        }

        /** What the opposite direction's lasting freeze took on this target (its application users' writes) given back. */
        @Override
        public String admitApplication() {
            String restored = restoreAcl(opposite, false);
            return restored.startsWith("no ") ? "" : restored;
        }

        @Override
        public String openForWrites() {
            return "nothing to open: Redis has no triggers, and the target takes writes";
        }

        @Override
        public String closeForWrites() {
            return "nothing to close";
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
