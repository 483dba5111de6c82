package io.migrator.connectors.redis;

import static io.migrator.connectors.redis.RedisTargetNodes.bytes;

import com.moilioncircle.redis.replicator.Configuration;
import com.moilioncircle.redis.replicator.RedisReplicator;
import com.moilioncircle.redis.replicator.Replicator;
import com.moilioncircle.redis.replicator.cmd.CommandName;
import com.moilioncircle.redis.replicator.cmd.impl.DefaultCommand;
import com.moilioncircle.redis.replicator.cmd.impl.SelectCommand;
import com.moilioncircle.redis.replicator.cmd.parser.DefaultCommandParser;
import com.moilioncircle.redis.replicator.event.Event;
import com.moilioncircle.redis.replicator.event.PreCommandSyncEvent;
import com.moilioncircle.redis.replicator.event.PreRdbSyncEvent;
import com.moilioncircle.redis.replicator.rdb.dump.datatype.DumpKeyValuePair;
import io.migrator.connectors.redis.RedisItem.Command;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * The source side of a Redis migration: connects to the source as a replica (PSYNC, through redis-replicator) and hands
 * the applier what arrives, in order, as {@link RedisItem}s: a full sync as one DUMP payload per key, then the replication
 * stream command by command. At most {@link #QUEUE_KIB} KiB wait between the socket and the target; beyond that the
 * source's output buffer for this replica holds the rest.
 */
final class RedisReplicationReader implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RedisReplicationReader.class);
    /** KiB of payloads and commands held between the replication socket and the target. */
    static final int QUEUE_KIB = 64 * 1024;
    /** Keys of a full sync handed to the applier together (fewer with large values: at most 1 MiB). */
    private static final int KEYS_HANDED_OVER = 256;

    /**
     * What the stream needs to know of the source and the target: the source's command table, the payload version to
     * write (-1: the source's own), whether the target takes {@code SET ... PXAT} (Redis 6.2+).
     */
    record SourceFacts(RedisCommandTable commands, int payloadVersion, boolean targetSetPxat) {
    }

    private final Plan plan;
    private final Duration timeout;
    private final Consumer<Throwable> failed;
    private final BooleanSupplier stopped;
    private final LinkedBlockingQueue<RedisItem> queue = new LinkedBlockingQueue<>();
    private final Semaphore room = new Semaphore(QUEUE_KIB);
    private final AtomicLong queued = new AtomicLong();
    private Replicator replicator;
    private Jedis sourceForKeys;

    /** {@code failed}: the first failure of the replication thread; {@code stopped}: whether the applier no longer takes items. */
    RedisReplicationReader(Plan plan, Duration timeout, Consumer<Throwable> failed, BooleanSupplier stopped) {
        this.plan = plan;
        this.timeout = timeout;
        this.failed = failed;
        this.stopped = stopped;
    }

    /** Reads the source's command table (kept open for COMMAND GETKEYS) and which payload version the target takes. */
    SourceFacts sourceFacts() {
        Jedis source = RedisConnector.connect(plan.source(), timeout);
        sourceForKeys = source;
        String sourceVersion;
        try {
            sourceVersion = RedisConnector.parseInfo(source.info("server")).getOrDefault("redis_version", "0");
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
        @SuppressWarnings("unchecked")
        List<Object> reply = (List<Object>) source.sendCommand(redis.clients.jedis.Protocol.Command.COMMAND, new byte[0][]);
        Map<String, RedisCommandTable.Spec> specs = RedisCommandTable.parse(reply);
        java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();
        RedisCommandTable table = new RedisCommandTable(specs, argv -> {
            lock.lock();
            try {
                Object keys = source.sendCommand(redis.clients.jedis.Protocol.Command.COMMAND, prepend(bytes("GETKEYS"), argv));
                List<byte[]> out = new ArrayList<>();
                for (Object k : (List<?>) keys) {
                    out.add((byte[]) k);
                }
                return out;
            } catch (JedisDataException e) {
                return List.of(); // "Invalid arguments" / no keys
            } finally {
                lock.unlock();
            }
        });
        String targetVersion;
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), timeout)) {
            Object info = nodes.masters().iterator().next().execute(RedisTargetNodes.argv("INFO", "server"));
            targetVersion = RedisConnector.parseInfo(RedisCommandTable.text(info)).getOrDefault("redis_version", "0");
        }
        int sourceRdb = RedisVersions.rdbVersion(sourceVersion);
        int targetRdb = RedisVersions.rdbVersion(targetVersion);
        int payloadVersion = targetRdb < sourceRdb ? targetRdb : -1;
        if (payloadVersion > 0) {
            LOG.info("the target runs Redis {} (RDB {}), older than the source's {} (RDB {}): payloads are re-encoded for RDB {}",
                    targetVersion, targetRdb, sourceVersion, sourceRdb, targetRdb);
        }
        return new SourceFacts(table, payloadVersion, RedisVersions.atLeast(targetVersion, 6, 2));
    }

    private static byte[][] prepend(byte[] first, byte[][] rest) {
        byte[][] all = new byte[rest.length + 1][];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    /**
     * Opens the replication link on its own thread: {@code resumeAt} (replication id and offset) asks for a partial resync,
     * null for a full sync. A link lost for longer than network.maxOutage is a failure.
     */
    void open(SourceFacts facts, RedisCheckpoint resumeAt, BooleanSupplier ended) {
        // a source that restarts or fails over is reconnected for network.maxOutage (one attempt a second), not 10 s
        Configuration configuration = Configuration.defaultSetting()
                .setRetries((int) Math.max(10, Math.min(Integer.MAX_VALUE, plan.network().maxOutage().toSeconds())))
                .setRetryTimeInterval(1000)
                .setConnectionTimeout((int) timeout.toMillis()).setReadTimeout((int) timeout.toMillis())
                .setUseDefaultExceptionListener(false).setHeartbeatPeriod(1000).setAsyncCachedBytes(4 << 20);
        if (!plan.source().user().isEmpty()) {
            configuration.setAuthUser(plan.source().user());
        }
        if (!plan.source().password().isEmpty()) {
            configuration.setAuthPassword(plan.source().password().reveal());
        }
        if (plan.source().tls().mode() != io.migrator.core.plan.Tls.Mode.DISABLE) {
            io.migrator.core.tls.TlsMaterial tls = io.migrator.core.tls.TlsMaterial.of(plan.source().tls());
            configuration.setSsl(true).setSslSocketFactory(tls.socketFactory()).setSslParameters(tls.parameters());
        }
        if (resumeAt != null) {
            configuration.setReplId(resumeAt.replId()).setReplOffset(resumeAt.offset());
        }
        Replicator r = new RedisReplicator(plan.source().host(), plan.source().port(), configuration);
        replicator = r;
        r.setRdbVisitor(new RedisRdbVisitor(r, facts.payloadVersion()));
        for (String name : facts.commands().names()) {
            r.addCommandParser(CommandName.name(name), new DefaultCommandParser());
        }
        for (String name : List.of("PING", "SELECT", "MULTI", "EXEC", "PUBLISH", "REPLCONF")) {
            r.addCommandParser(CommandName.name(name), new DefaultCommandParser());
        }
        boolean[] fullSeen = {false};
        r.addEventListener((rep, event) -> receive(event, configuration, fullSeen));
        r.addExceptionListener((rep, e, event) -> {
            failed.accept(e);
            LOG.debug("replication listener failed", e);
        });
        Thread replication = new Thread(() -> {
            try {
                r.open();
                if (!ended.getAsBoolean()) {
                    failed.accept(new MigratorException(ErrorCode.CANNOT_CONNECT, "lost the replication link to the source at "
                            + plan.source().address() + " and could not get it back after 10 attempts",
                            "check that the source runs and accepts this replica (see its log), then `migrator run` again: it "
                                    + "resumes from the target's checkpoint"));
                }
            } catch (Throwable e) {
                failed.accept(e);
            }
        }, "redis-replication");
        replication.setDaemon(true);
        replication.start();
    }

    /** Keys read but not handed over yet (the replication thread's own). */
    private List<RedisItem.Key> keys = new ArrayList<>();
    private int keysKib;
    private long keysBytes;

    /** On the replication thread: hands events to the applier, holding at most {@link #QUEUE_KIB} of them. */
    private void receive(Event event, Configuration configuration, boolean[] fullSeen) {
        RedisItem item = null;
        if (event instanceof DumpKeyValuePair kv) {
            RedisItem.Key key = new RedisItem.Key((int) kv.getDb().getDbNumber(), kv.getKey(), kv.getValue(),
                    kv.getExpiredMs() == null ? -1 : kv.getExpiredMs(), kv.getValueRdbType() == RedisRdbVisitor.PLAIN_STRING);
            keys.add(key);
            keysKib += key.kib();
            keysBytes += key.payload().length;
            if (keys.size() >= KEYS_HANDED_OVER || keysKib >= 1024) {
                handOverKeys();
            }
            return;
        }
        handOverKeys(); // whatever follows a key (the stream's start, a new full sync) comes after it
        if (event instanceof PreRdbSyncEvent) {
            fullSeen[0] = true;
            item = new RedisItem.FullSync();
        } else if (event instanceof PreCommandSyncEvent) {
            item = new RedisItem.StreamStart(configuration.getReplId(), configuration.getReplOffset(), fullSeen[0]);
            fullSeen[0] = false;
        } else if (event instanceof DefaultCommand c) {
            byte[][] argv = new byte[c.getArgs().length + 1][];
            argv[0] = c.getCommand();
            System.arraycopy(c.getArgs(), 0, argv, 1, c.getArgs().length);
            item = Command.of(argv, c.getContext().getOffsets().getV2());
        } else if (event instanceof SelectCommand s) {
            long at = s.getContext().getOffsets() == null ? configuration.getReplOffset() : s.getContext().getOffsets().getV2();
            item = Command.of(RedisTargetNodes.argv("SELECT", Integer.toString(s.getIndex())), at);
        }
        if (item != null) {
            handOver(item);
        }
    }

    private void handOverKeys() {
        if (!keys.isEmpty()) {
            handOver(new RedisItem.Keys(keys, keysKib, keysBytes));
            keys = new ArrayList<>(KEYS_HANDED_OVER);
            keysKib = 0;
            keysBytes = 0;
        }
    }

    private void handOver(RedisItem item) {
        int kib = Math.min(item.kib(), QUEUE_KIB);
        try {
            while (!room.tryAcquire(kib, 200, TimeUnit.MILLISECONDS)) {
                if (stopped.getAsBoolean()) {
                    throw new IllegalStateException("the applier stopped");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
        queued.incrementAndGet();
        queue.add(item);
    }

    /** The next item, waiting at most {@code millis}; null when none came. */
    RedisItem poll(long millis) throws InterruptedException {
        return taken(queue.poll(millis, TimeUnit.MILLISECONDS));
    }

    /** The next item if one is there, else null. */
    RedisItem poll() {
        return taken(queue.poll());
    }

    private RedisItem taken(RedisItem item) {
        if (item != null) {
            room.release(Math.min(item.kib(), QUEUE_KIB));
            queued.decrementAndGet();
        }
        return item;
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    /** Items waiting for the applier. */
    long queued() {
        return queued.get();
    }

    /**
     * Closes the link, once the applier has stopped; what it read and the applier did not take is dropped (the target's
     * checkpoint brings it again).
     */
    @Override
    public void close() {
        if (replicator != null) {
            try {
                replicator.close();
            } catch (java.io.IOException | RuntimeException ignored) {
                // closing anyway
            }
            replicator = null;
        }
        queue.clear();
        room.drainPermits();
        room.release(QUEUE_KIB);
        queued.set(0);
        if (sourceForKeys != null) { // the command table's connection (COMMAND GETKEYS): the applier has stopped using it
            sourceForKeys.close();
            sourceForKeys = null;
        }
    }
}
