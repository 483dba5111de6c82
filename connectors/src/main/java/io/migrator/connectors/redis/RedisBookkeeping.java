package io.migrator.connectors.redis;

import static io.migrator.connectors.redis.RedisTargetNodes.bytes;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * What one Redis migration keeps on the target beside the keys, as the applier reads and writes it: the checkpoint
 * (replication id, offset, selected database, phase), a cluster's per-slot offsets and resync marks, and the phase journal.
 * It also holds the applier's connections to the target and the database the standalone connection has selected.
 * <p>
 * Everything but {@link #checkpoint} belongs to the applier thread; the checkpoint is read by status and the fences.
 */
final class RedisBookkeeping {
    private static final Logger LOG = LoggerFactory.getLogger(RedisBookkeeping.class);

    private final Plan plan;
    private final List<Integer> databases;
    /** The applier's connections to the target (every master of a cluster). */
    RedisTargetNodes target;
    /** The database the standalone connection has selected (-1: not known). */
    int connectionDb;
    /** The applied position: what the target holds, as far as this worker knows. */
    volatile RedisCheckpoint checkpoint;
    /** The database the stream's last SELECT chose (-1: none seen yet). */
    int streamDb = -1;
    /** Whether a checkpoint of this migration was stored on the target (its absence after that means the target lost it). */
    boolean everStored;
    /** Why the target's checkpoint asks for a full resync ({@link RedisContinuity}); empty when it does not. */
    String resyncReason = "";
    /** A cluster's slots: the offset each has applied up to in this replication history. */
    final Map<Integer, Long> slotOffsets = new HashMap<>();
    /** Cluster slots whose offset key holds a resync mark. */
    final Set<Integer> markedSlots = new HashSet<>();

    RedisBookkeeping(Plan plan, List<Integer> databases) {
        this.plan = plan;
        this.databases = databases;
    }

    /** The connection to the node holding the checkpoint hash, in database 0. */
    RespConnection checkpointNode() {
        RespConnection node = target.node(target.slot(bytes(RedisCheckpoint.key(plan.name()))));
        if (!target.cluster() && connectionDb != 0) {
            RedisTargetNodes.send(node, RedisTargetNodes.argv("SELECT", "0"));
            node.getOne();
            connectionDb = 0;
        }
        return node;
    }

    RedisCheckpoint loadCheckpoint() {
        RespConnection node = checkpointNode();
        RedisTargetNodes.send(node, new byte[][] {bytes("HGETALL"), bytes(RedisCheckpoint.key(plan.name()))});
        return RedisCheckpoint.parse(node.getOne());
    }

    void writeCheckpoint(RedisCheckpoint cp) {
        byte[] key = bytes(RedisCheckpoint.key(plan.name()));
        RespConnection node = target.node(target.slot(key));
        int n = 0;
        if (!target.cluster() && connectionDb != 0) {
            RedisTargetNodes.send(node, RedisTargetNodes.argv("SELECT", "0"));
            n++;
            connectionDb = 0;
        }
        RedisTargetNodes.send(node, cp.hset(plan.name()));
        n++;
        everStored = true;
        for (Object reply : node.getMany(n)) {
            if (reply instanceof JedisDataException d) {
                throw RedisTargetWrites.refused(cp.hset(plan.name()), d, false);
            }
        }
    }

    /** Reads every slot's offset; values of another replication history (another replid) do not count. */
    Map<Integer, Long> loadSlotOffsets() {
        Map<Integer, Long> read = new HashMap<>();
        Map<RespConnection, List<Integer>> byNode = new LinkedHashMap<>();
        for (int s = 0; s < RedisTargetNodes.SLOTS; s++) {
            byNode.computeIfAbsent(target.node(s), n -> new ArrayList<>()).add(s);
        }
        String prefix = checkpoint.replId() + ":";
        for (Map.Entry<RespConnection, List<Integer>> e : byNode.entrySet()) {
            for (int s : e.getValue()) {
                RedisTargetNodes.send(e.getKey(), RedisTargetNodes.argv("GET", RedisCheckpoint.slotKey(plan.name(), s)));
            }
            List<Object> replies = e.getKey().getMany(e.getValue().size());
            for (int i = 0; i < replies.size(); i++) {
                if (replies.get(i) instanceof JedisDataException d) {
                    throw new JedisConnectionException("reading slot offsets: " + d.getMessage());
                }
                if (replies.get(i) instanceof byte[] b) {
                    String value = new String(b, StandardCharsets.US_ASCII);
                    if (value.startsWith(prefix)) {
                        read.put(e.getValue().get(i), Long.parseLong(value.substring(prefix.length())));
                    } else if (value.startsWith(RedisContinuity.SLOT_MARK)) {
                        markedSlots.add(e.getValue().get(i));
                    }
                }
            }
        }
        Map<Integer, Long> committed = Map.copyOf(slotOffsets);
        slotOffsets.clear();
        slotOffsets.putAll(read);
        return committed;
    }

    /** The journal's entries, oldest first. */
    List<MigrationStatus.PhaseEntry> readJournal() {
        byte[] key = bytes(RedisCheckpoint.journalKey(plan.name()));
        RespConnection node = target.node(target.slot(key));
        RedisTargetNodes.send(node, new byte[][] {bytes("LRANGE"), key, bytes("0"), bytes("-1")});
        return RedisStoredState.journalEntries(node.getOne());
    }

    void journal(Phase p, String at, String detail) {
        journal(plan, target, p, at, detail);
    }

    /** Appends to the journal through {@code nodes} (the applier's own, or a fresh one for a failure on another thread). */
    static void journal(Plan plan, RedisTargetNodes nodes, Phase p, String at, String detail) {
        byte[] key = bytes(RedisCheckpoint.journalKey(plan.name()));
        try {
            RespConnection node = nodes.node(nodes.slot(key));
            RedisTargetNodes.send(node, new byte[][] {bytes("RPUSH"), key, bytes(p.name() + "|" + at + "|" + detail)});
            RedisTargetNodes.send(node, new byte[][] {bytes("LTRIM"), key, bytes("-100"), bytes("-1")});
            node.getMany(2);
        } catch (RuntimeException e) {
            LOG.debug("could not journal the phase: {}", e.toString());
        }
    }

    /** A first run writes into an empty target only: a full resync removes keys it did not copy, which must be ours. */
    void requireEmptyTarget() {
        String occupied = RedisStoredState.occupied(target, databases);
        connectionDb = -1; // occupied() selects databases
        if (occupied != null) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the target " + occupied + " at " + plan.target().address()
                    + ", and this migration has no checkpoint there", "migrate into an empty target: empty it (FLUSHDB) if its keys are "
                    + "disposable, or point the plan at another target; migrator never mixes its copy with keys it did not write");
        }
        RedisTargetNodes.send(target.node(0), RedisTargetNodes.argv("SELECT", "0"));
        target.node(0).getOne();
        connectionDb = 0;
    }

    /** Marks the checkpoint for a full resync, as {@link RedisContinuity} does inside a batch. */
    void markResync(String why) {
        try {
            RespConnection node = checkpointNode();
            RedisTargetNodes.send(node, new byte[][] {bytes("HSET"), bytes(RedisCheckpoint.key(plan.name())), bytes(RedisCheckpoint.RESYNC),
                bytes(why)});
            node.getOne();
        } catch (RuntimeException e) {
            LOG.warn("could not mark the target's checkpoint for a full resync ({}): run `migrator complete` and start over", e.toString());
        }
    }

    /**
     * After a reconnect: the target must still hold what this worker committed. Its checkpoint gone while this worker had
     * stored one, or marked, means the target cannot vouch for its keys (a full resync); a checkpoint or a slot behind what
     * this worker committed means the target lost the writes since (a failover to a replica that lagged, a restart from an
     * older snapshot): a standalone target holds a consistent state at its checkpoint, so the next run resumes from there; a
     * cluster's slots on different nodes do not, so it is marked for a full resync.
     */
    void requireContinuity(RedisCheckpoint stored, Map<Integer, Long> committedSlots) {
        if (stored == null && everStored) {
            String why = "the target no longer holds this migration's checkpoint (it restarted without persistence, or was flushed)";
            markResync(why);
            throw RedisContinuity.failure(plan.name(), "MIGRATORLOST " + why, null);
        }
        if (stored != null && stored.needsResync()) {
            throw RedisContinuity.failure(plan.name(), "MIGRATORLOST " + stored.resync(), null);
        }
        if (committedSlots != null) { // slotOffsets: what the slots hold now
            for (Map.Entry<Integer, Long> e : committedSlots.entrySet()) {
                long now = slotOffsets.getOrDefault(e.getKey(), -1L);
                if (now < e.getValue() || markedSlots.contains(e.getKey())) {
                    String why = "the target lost writes: slot " + e.getKey() + " holds offset " + now + ", the worker had committed "
                            + e.getValue() + " (a failover to a replica that lagged, or a restart from an older snapshot)";
                    markResync(why);
                    throw RedisContinuity.failure(plan.name(), "MIGRATORLOST " + why, null);
                }
            }
        }
        if (stored != null && stored.offset() < checkpoint.offset() && !target.cluster()) {
            throw new MigratorException(ErrorCode.TARGET_LOST, "migration " + plan.name() + ": the target lost writes: its checkpoint is at "
                    + stored.position() + ", this worker had committed " + checkpoint.position() + " (a failover to a replica that lagged, "
                    + "or a restart from an older snapshot)", "`migrator run` again: it resumes from the target's checkpoint, and the "
                    + "source's backlog brings the lost writes again (or a full resync, if the backlog no longer holds them)");
        }
    }

    /** Waits until the applied position reaches {@code offset} (the source's replication offset); false when {@code wait} passed first. */
    boolean awaitApplied(long offset, java.time.Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        do {
            RedisCheckpoint cp = checkpoint;
            if (cp != null && cp.offset() >= offset) {
                return true;
            }
            RedisTargetWrites.sleep(5);
        } while (System.nanoTime() < deadline && !Thread.currentThread().isInterrupted());
        return false;
    }
}
