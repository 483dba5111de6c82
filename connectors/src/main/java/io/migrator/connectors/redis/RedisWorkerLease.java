package io.migrator.connectors.redis;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.WorkerLease;
import io.migrator.core.state.WorkerRecord;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * One worker per migration on a Redis target: a key with a time to live ({@code __migrator__:<plan>:worker}) that the
 * worker renews every few seconds and that says where it serves its API. Redis keeps no session locks, so a worker killed
 * with kill -9 leaves its key until it expires; a new worker on the same host takes it over at once when the holder's
 * process is gone, and otherwise waits for the key to expire, or fails if its holder renews it meanwhile.
 */
final class RedisWorkerLease implements WorkerLease {
    private static final Logger LOG = LoggerFactory.getLogger(RedisWorkerLease.class);
    static final long TTL_MILLIS = 15_000;
    static final long RENEW_MILLIS = 5_000;
    /** A renewal not sent within TTL minus this (room for one attempt and one reconnect, 2 s each, and a pause) stops the worker. */
    static final long STOP_MARGIN_MILLIS = 6_000;
    private static final String RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
            + "else return 0 end";
    private static final String RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
    private static final String TAKE_OVER = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) "
            + "return 1 else return 0 end";

    private final Plan plan;
    private final String value;
    private final Consumer<MigratorException> lost;
    private final RedisTargetNodes nodes;
    private volatile boolean closed;
    private Thread renew;
    /** When the last successful claim or renewal was sent ({@link System#nanoTime}): the key lives TTL from then at least. */
    private volatile long renewedAt = System.nanoTime();

    private RedisWorkerLease(Plan plan, WorkerRecord self, Consumer<MigratorException> lost) {
        this.plan = plan;
        this.value = encode(UUID.randomUUID().toString(), self);
        this.lost = lost;
        this.nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(2)); // a renewal must not outlast the key
    }

    static String key(String plan) {
        return RedisCheckpoint.PREFIX + plan + ":worker";
    }

    /** Claims the migration: at once when free or left by a dead process here; else after the holder's key expires. */
    static RedisWorkerLease claim(Plan plan, WorkerRecord self, Consumer<MigratorException> lost) {
        RedisWorkerLease lease = new RedisWorkerLease(plan, self, lost);
        try {
            lease.acquire();
        } catch (RuntimeException e) {
            lease.nodes.close();
            throw e;
        }
        lease.renew = WorkerLease.keep(lease::renewLoop);
        return lease;
    }

    /** The worker holding the migration's claim now, as it registered itself; empty when the key is gone. */
    static Optional<WorkerRecord> holder(Plan plan) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            Object reply = execute(nodes, "GET", key(plan.name()));
            Holder holder = reply instanceof byte[] b ? decode(new String(b, StandardCharsets.UTF_8)) : null;
            return holder == null || gone(holder) ? Optional.empty() : Optional.of(holder.worker());
        }
    }

    private void acquire() {
        String k = key(plan.name());
        long deadline = System.currentTimeMillis() + TTL_MILLIS + 1_000;
        long lastTtl = Long.MAX_VALUE;
        boolean waited = false;
        while (true) {
            long sent = System.nanoTime();
            if (isOk(execute(nodes, "SET", k, value, "NX", "PX", Long.toString(TTL_MILLIS)))) {
                renewedAt = sent;
                return;
            }
            Object current = execute(nodes, "GET", k);
            if (!(current instanceof byte[] held)) {
                continue; // expired between the two commands
            }
            String heldValue = new String(held, StandardCharsets.UTF_8);
            Holder holder = decode(heldValue);
            WorkerRecord other = holder == null ? null : holder.worker();
            if (holder != null && gone(holder)) {
                Object took = execute(nodes, "EVAL", TAKE_OVER, "1", k, heldValue, value, Long.toString(TTL_MILLIS));
                if (Long.valueOf(1).equals(took)) {
                    renewedAt = sent;
                    LOG.info("took over migration {}'s claim from a worker that is gone ({})", plan.name(), other.describe());
                    return;
                }
                continue;
            }
            Object ttl = execute(nodes, "PTTL", k);
            long remaining = ttl instanceof Long l ? l : -1;
            if (remaining > lastTtl + 200 || System.currentTimeMillis() >= deadline || remaining == -1) {
                // renewed meanwhile (its worker runs), or never expiring: someone holds it for real
                throw held(other);
            }
            lastTtl = remaining;
            if (!waited) {
                LOG.info("migration {}'s claim on the target is held by {}; waiting up to {} s for it to expire (a worker "
                        + "that was killed) or be renewed (a worker that runs)", plan.name(), other == null ? "another worker"
                        : other.describe(), remaining / 1000 + 1);
                waited = true;
            }
            sleep(500);
        }
    }

    private MigratorException held(WorkerRecord other) {
        return new MigratorException(ErrorCode.WORKER_RUNNING, "migration " + plan.name() + " already runs: a worker ("
                + (other == null ? "unknown" : other.describe()) + ") holds its claim on the target (key " + key(plan.name()) + ")",
                "follow it with `migrator status PLAN`, or stop it (SIGTERM) before starting another worker; if its host is gone, "
                        + "its claim expires " + TTL_MILLIS / 1000 + " s after its last renewal");
    }

    /**
     * Whether the holder was a process of this host and pid namespace that no longer runs: its pid is gone, a zombie
     * (killed, not yet reaped by its parent), taken by a process that started after the holder registered, or this very
     * process's pid registered before it started. A holder in another namespace (another container) is waited out.
     */
    static boolean gone(Holder holder) {
        WorkerRecord other = holder.worker();
        if (!other.host().equals(WorkerRecord.localHost()) || !holder.namespace().equals(pidNamespace())) {
            return false; // another host, or another container on this one: its pids are not ours to judge
        }
        if (other.pid() == ProcessHandle.current().pid()) {
            // the same pid in the same namespace: a container restarted with this pid is gone if it registered before this JVM began
            try {
                return java.time.Instant.parse(other.startedAt()).isBefore(ProcessHandle.current().info().startInstant()
                        .orElse(java.time.Instant.MIN));
            } catch (java.time.format.DateTimeParseException e) {
                return false;
            }
        }
        Optional<ProcessHandle> process = ProcessHandle.of(other.pid());
        if (process.isEmpty() || !process.get().isAlive()) {
            return true;
        }
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", Long.toString(other.pid()), "stat"));
            int end = stat.lastIndexOf(')'); // "pid (comm) S ...": the command may hold spaces and parentheses
            if (end > 0 && end + 2 < stat.length() && (stat.charAt(end + 2) == 'Z' || stat.charAt(end + 2) == 'X')) {
                return true;
            }
        } catch (java.io.IOException | RuntimeException e) {
            // no /proc: judge by the start time alone
        }
        try {
            java.time.Instant registered = java.time.Instant.parse(other.startedAt());
            return process.get().info().startInstant().map(started -> started.isAfter(registered)).orElse(false);
        } catch (java.time.format.DateTimeParseException e) {
            return false;
        }
    }

    private void renewLoop() {
        boolean warned = false;
        String k = key(plan.name());
        long pause = RENEW_MILLIS;
        while (!closed) {
            sleep(pause);
            if (closed) {
                return;
            }
            long sent = System.nanoTime();
            // not renewed for TTL minus the margin: the worker writes nothing (fresh() is false) until a renewal, or a claim of
            // the expired key that no other worker took meanwhile, succeeds; the outage is the applier's to wait out
            try {
                Object renewed = execute(nodes, "EVAL", RENEW, "1", k, value, Long.toString(TTL_MILLIS));
                if (Long.valueOf(1).equals(renewed)) {
                    if (warned) {
                        LOG.info("renewed migration {}'s claim on the target again", plan.name());
                    }
                    warned = false;
                    renewedAt = sent;
                    pause = RENEW_MILLIS;
                    continue;
                }
                // expired (the target was unreachable too long, or flushed): claim again unless another worker has
                if (isOk(execute(nodes, "SET", k, value, "NX", "PX", Long.toString(TTL_MILLIS)))) {
                    renewedAt = sent;
                    warned = false;
                    LOG.warn("migration {}'s claim on the target had expired; claimed it again", plan.name());
                    continue;
                }
                Object current = execute(nodes, "GET", k);
                Holder holder = current instanceof byte[] b ? decode(new String(b, StandardCharsets.UTF_8)) : null;
                MigratorException taken = held(holder == null ? null : holder.worker());
                LOG.error("{}; this worker stops", taken.getMessage());
                lost.accept(taken);
                return;
            } catch (RuntimeException e) {
                pause = 1_000; // try again soon: the key's time runs out
                if (!warned) {
                    LOG.warn("could not renew migration {}'s claim on the target ({}); trying again", plan.name(), e.getMessage());
                    warned = true;
                }
                try {
                    nodes.refresh();
                } catch (RuntimeException again) {
                    // still unreachable: next round
                }
            }
        }
    }

    /**
     * Before each write to the target: whether the claim is surely still this worker's, i.e. a renewal was sent less than
     * TTL minus the stop margin ago. A process paused longer (a long GC, SIGSTOP, a frozen VM) finds this false when it
     * wakes, before its renewal thread has run, and must not write: another worker may hold the key by then.
     */
    boolean fresh() {
        return fresh(renewedAt, System.nanoTime());
    }

    static boolean fresh(long renewedAtNanos, long nowNanos) {
        return nowNanos - renewedAtNanos < (TTL_MILLIS - STOP_MARGIN_MILLIS) * 1_000_000;
    }

    @Override
    public void close() {
        closed = true;
        WorkerLease.stop(renew);
        for (int attempt = 1; attempt <= 2; attempt++) {
            try {
                if (attempt > 1) {
                    nodes.refresh(); // the target restarted or failed over: its connections broke
                }
                execute(nodes, "EVAL", RELEASE, "1", key(plan.name()), value);
                break;
            } catch (RuntimeException e) {
                LOG.debug("could not release the claim (attempt {}; it expires on its own)", attempt, e);
            }
        }
        nodes.close();
    }

    /**
     * Runs one command on the node owning its key: after MOVED the slot map is read again, after ASK (a slot moving) the
     * command goes once to the node named.
     */
    private static Object execute(RedisTargetNodes nodes, String... argv) {
        byte[] key = bytes(key(argv));
        for (int attempt = 0; ; attempt++) {
            Object reply = nodes.node(nodes.slot(key)).execute(RedisTargetNodes.argv(argv));
            String message = reply instanceof JedisDataException e && e.getMessage() != null ? e.getMessage() : "";
            if (message.startsWith("ASK ")) {
                // the key's slot is moving: this one command goes to the node named, after ASKING; the slot map stays
                RespConnection to = nodes.at(message.substring(message.lastIndexOf(' ') + 1));
                RedisTargetNodes.send(to, RedisTargetNodes.argv("ASKING"));
                RedisTargetNodes.send(to, RedisTargetNodes.argv(argv));
                reply = to.getMany(2).get(1);
                message = reply instanceof JedisDataException e && e.getMessage() != null ? e.getMessage() : "";
            }
            if (!(reply instanceof JedisDataException e)) {
                return reply;
            }
            if (message.startsWith("MOVED") && attempt < 3) {
                nodes.refresh(); // the slot has moved: the map is read again
                continue;
            }
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target Redis refused " + argv[0] + " on " + key(argv) + ": "
                    + message, "the worker's user needs SET, GET, PTTL and EVAL on keys " + RedisCheckpoint.PREFIX + "*", e);
        }
    }

    private static String key(String[] argv) {
        return argv[0].equals("EVAL") ? argv[3] : argv[1];
    }

    private static boolean isOk(Object reply) {
        return reply instanceof byte[] b && "OK".equals(new String(b, StandardCharsets.US_ASCII))
                || reply instanceof String s && "OK".equals(s);
    }

    /**
     * Tab-separated: token, address, host#pid-namespace, pid, started at (host names and addresses hold no tabs). The pid
     * namespace tells containers sharing a host name apart.
     */
    private static String encode(String token, WorkerRecord self) {
        return String.join("\t", token, self.address() == null ? "" : self.address(), self.host() + "#" + pidNamespace(),
                Long.toString(self.pid()), self.startedAt());
    }

    /** The inode of this process's pid namespace ("pid:[4026531836]"), or "?" where the system does not show it. */
    static String pidNamespace() {
        try {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/pid")).toString();
        } catch (java.io.IOException | RuntimeException e) {
            return "?";
        }
    }

    /** A registered worker and the pid namespace its pid belongs to. */
    record Holder(WorkerRecord worker, String namespace) {
    }

    static Holder decode(String value) {
        String[] f = value.split("\t", -1);
        if (f.length < 5) {
            return null;
        }
        String[] host = f[2].split("#", 2);
        try {
            return new Holder(new WorkerRecord(f[1].isEmpty() ? null : f[1], host[0], Long.parseLong(f[3]), f[4]), host.length < 2 ? "" : host[1]);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
