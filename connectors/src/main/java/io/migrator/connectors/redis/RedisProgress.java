package io.migrator.connectors.redis;

import io.migrator.core.plan.Plan;
import io.migrator.core.run.Rate;
import io.migrator.core.state.History;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import redis.clients.jedis.Jedis;

/**
 * A Redis migration's progress as status shows it: keys restored per database against the source's keyspace, the source's
 * replication offset sampled four times a second (lag in seconds is how long ago the source first held a byte the target
 * has not applied; lag in bytes the offsets' difference), the source's write rate and the backlog's headroom, and the
 * event and key rates for the history.
 */
final class RedisProgress {
    private static final Logger LOG = LoggerFactory.getLogger(RedisProgress.class);
    /** Within this of the source the stream counts as caught up (CATCH_UP becomes STREAMING, the ETA is 0). */
    static final long STREAMING_LAG_MILLIS = 2_000;

    private final Plan plan;
    private final List<Integer> databases;
    private final RedisBookkeeping books;
    private final AtomicLong appliedEvents;
    private final Rate eventRate = new Rate();
    private final Rate keyRate = new Rate();
    final Map<Integer, AtomicLong> keysRestored = new ConcurrentHashMap<>();
    final Map<Integer, Long> keysEstimated = new ConcurrentHashMap<>();
    private final ArrayDeque<long[]> masterOffsets = new ArrayDeque<>(); // {millis, offset}, guarded by itself
    volatile long fullSyncStartedMillis;
    volatile boolean fullSyncDone;
    private volatile Long backlogFirstByte;
    private volatile Double writeBytesPerSecond;

    RedisProgress(Plan plan, List<Integer> databases, RedisBookkeeping books, AtomicLong appliedEvents) {
        this.plan = plan;
        this.databases = databases;
        this.books = books;
        this.appliedEvents = appliedEvents;
    }

    long keysRestored() {
        return keysRestored.values().stream().mapToLong(AtomicLong::get).sum();
    }

    /** A full sync begins: its key counts start at 0, the source's keyspace gives the estimate. */
    void fullSyncStarted() {
        keysRestored.clear();
        fullSyncStartedMillis = System.currentTimeMillis();
        fullSyncDone = false;
        try (Jedis source = RedisConnector.connect(plan.source(), Duration.ofSeconds(10))) {
            Map<String, String> keyspace = RedisConnector.parseInfo(source.info("keyspace"));
            for (int db : databases) {
                String line = keyspace.getOrDefault("db" + db, "keys=0");
                keysEstimated.put(db, Long.parseLong(line.replaceAll("^keys=(\\d+).*$", "$1")));
            }
        } catch (RuntimeException e) {
            LOG.debug("could not read the source keyspace: {}", e.toString());
        }
    }

    /** Whether the source has been sampled at least once (lag can be told). */
    boolean sampled() {
        synchronized (masterOffsets) {
            return !masterOffsets.isEmpty();
        }
    }

    /** Samples the source's offset every 250 ms, and every second adds a status sample to the history, until stopped. */
    void sampleLoop(AtomicBoolean stop, Supplier<MigrationStatus> status, History history) {
        MDC.put("migration", plan.name());
        Jedis source = null;
        long lastOffset = -1;
        long lastMillis = 0;
        int tick = 0;
        while (!stop.get() && !Thread.currentThread().isInterrupted()) {
            try {
                if (source == null) {
                    source = RedisConnector.connect(plan.source(), Duration.ofSeconds(5));
                }
                Map<String, String> info = RedisConnector.parseInfo(source.info("replication"));
                long now = System.currentTimeMillis();
                long offset = Long.parseLong(info.getOrDefault("master_repl_offset", "0"));
                backlogFirstByte = info.containsKey("repl_backlog_first_byte_offset")
                        ? Long.parseLong(info.get("repl_backlog_first_byte_offset")) : null;
                synchronized (masterOffsets) {
                    if (masterOffsets.isEmpty() || masterOffsets.peekLast()[1] != offset) {
                        masterOffsets.addLast(new long[] {now, offset});
                    }
                    RedisCheckpoint cp = books.checkpoint;
                    while (cp != null && masterOffsets.size() > 1) { // drop samples the target has passed, keeping the newest
                        long[] first = masterOffsets.pollFirst();
                        if (masterOffsets.peekFirst()[1] > cp.offset()) {
                            masterOffsets.addFirst(first);
                            break;
                        }
                    }
                    while (masterOffsets.size() > 10_000) {
                        masterOffsets.pollFirst();
                    }
                }
                if (lastOffset >= 0 && now > lastMillis) {
                    double rate = (offset - lastOffset) * 1000.0 / (now - lastMillis);
                    Double before = writeBytesPerSecond;
                    writeBytesPerSecond = before == null ? rate : before * 0.9 + rate * 0.1;
                }
                lastOffset = offset;
                lastMillis = now;
            } catch (RuntimeException e) {
                LOG.debug("could not read the source's replication offset: {}", e.toString());
                closeQuietly(source); // a broken connection's close fails too: it must not end the sampler (status, lag)
                source = null;
            }
            if (tick++ % 4 == 0) {
                long nanos = System.nanoTime();
                eventRate.update(appliedEvents.get(), nanos);
                keyRate.update(keysRestored(), nanos);
                MigrationStatus s = status.get();
                history.add(new History.Sample(Instant.now().getEpochSecond(), s.lag().seconds(), s.lag().bytes(),
                        s.throughput().eventsPerSecond(), s.throughput().rowsPerSecond()));
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                break;
            }
        }
        closeQuietly(source);
    }

    private static void closeQuietly(Jedis jedis) {
        if (jedis != null) {
            try {
                jedis.close();
            } catch (RuntimeException ignored) {
                // the connection is gone either way
            }
        }
    }

    /** Milliseconds since the source first held a byte this worker has not applied (0 when none). */
    long lagMillis(long now, Phase p) {
        if (p == Phase.SNAPSHOT && fullSyncStartedMillis > 0) {
            return now - fullSyncStartedMillis;
        }
        RedisCheckpoint cp = books.checkpoint;
        synchronized (masterOffsets) {
            for (long[] sample : masterOffsets) {
                if (cp == null || sample[1] > cp.offset()) {
                    return now - sample[0];
                }
            }
        }
        return 0;
    }

    Long bytesBehind() {
        RedisCheckpoint cp = books.checkpoint;
        synchronized (masterOffsets) {
            if (masterOffsets.isEmpty() || cp == null || cp.offset() < 0) {
                return null;
            }
            return Math.max(0, masterOffsets.peekLast()[1] - cp.offset());
        }
    }

    /** Lag as status shows it; {@code queued}: items between the replication socket and the target. */
    MigrationStatus.Lag lag(Phase p, long now, long queued) {
        boolean streaming = p == Phase.SNAPSHOT || p == Phase.CATCH_UP || p == Phase.STREAMING;
        Double lag = streaming && (p == Phase.SNAPSHOT || sampled()) ? lagMillis(now, p) / 1000.0 : null;
        Long bytes = streaming && p != Phase.SNAPSHOT ? bytesBehind() : null;
        Double eta = null;
        Double rate = writeBytesPerSecond;
        Double headroom = null;
        RedisCheckpoint cp = books.checkpoint;
        Long first = backlogFirstByte;
        if (first != null && cp != null && cp.offset() >= 0 && rate != null && rate > 1024 && p != Phase.SNAPSHOT) { // idle: never
            headroom = Math.max(0, cp.offset() - first) / rate; // the backlog drops the oldest bytes at the write rate
        }
        if (bytes != null && lag != null && lag * 1000 < STREAMING_LAG_MILLIS) {
            eta = 0.0;
        }
        return new MigrationStatus.Lag(lag, queued, bytes, eta, headroom, null);
    }

    /** Keys restored per database (a "table" each) against the estimate. */
    MigrationStatus.Snapshot snapshot(Phase p) {
        List<MigrationStatus.TableProgress> dbs = new ArrayList<>();
        long copied = 0;
        long estimated = 0;
        int done = 0;
        boolean synced = fullSyncDone || p == Phase.CATCH_UP || p == Phase.STREAMING;
        for (int db : databases) {
            long k = keysRestored.getOrDefault(db, new AtomicLong()).get();
            long est = synced ? k : Math.max(k, keysEstimated.getOrDefault(db, 0L));
            dbs.add(new MigrationStatus.TableProgress("db" + db, k, est, synced ? 1 : 0, 1, synced));
            copied += k;
            estimated += est;
            done += synced ? 1 : 0;
        }
        return new MigrationStatus.Snapshot(done, databases.size(), copied, estimated, dbs);
    }

    Double eventRate() {
        return eventRate.value();
    }

    Double keyRate() {
        return keyRate.value();
    }
}
