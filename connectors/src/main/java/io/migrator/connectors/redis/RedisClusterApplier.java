package io.migrator.connectors.redis;

import io.migrator.connectors.redis.RedisItem.Command;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * The stream applied to a cluster target: a batch is split by slot; each slot gets one MULTI/EXEC with its commands and its
 * own offset, pipelined per node; commands a slot already holds (after a restart) are stepped over. Commands without keys
 * (FLUSHALL, FUNCTION ...) run alone on every master, between the slot transactions before and after them. The
 * migration's checkpoint follows the batch, written only where the target still holds the last one.
 */
final class RedisClusterApplier implements RedisApplier {
    private final Plan plan;
    private final RedisBookkeeping books;
    private final RedisTargetWrites writes;
    private final RedisCommandFilter filter;
    private final AtomicLong appliedEvents;
    private final AtomicLong appliedBatches;

    RedisClusterApplier(Plan plan, RedisBookkeeping books, RedisTargetWrites writes, RedisCommandFilter filter, AtomicLong appliedEvents,
            AtomicLong appliedBatches) {
        this.plan = plan;
        this.books = books;
        this.writes = writes;
        this.filter = filter;
        this.appliedEvents = appliedEvents;
        this.appliedBatches = appliedBatches;
    }

    @Override
    public void apply(List<Command> batch) {
        int dbBefore = books.streamDb;
        int[] applied = {0};
        writes.withRetry("applying " + batch.size() + " commands", () -> {
            books.streamDb = dbBefore;
            applied[0] = applyToCluster(batch);
        });
        appliedEvents.addAndGet(applied[0]);
        appliedBatches.incrementAndGet();
    }

    @Override
    public void drain() {
        // every batch's replies are read before apply returns
    }

    @Override
    public boolean inFlight() {
        return false;
    }

    @Override
    public void newHistory() {
        clearSlotKeys();
    }

    int applyToCluster(List<Command> batch) {
        Map<Integer, List<byte[][]>> bySlot = new LinkedHashMap<>();
        Map<Integer, Long> slotEnd = new HashMap<>();
        int count = 0;
        for (Command c : batch) {
            String name = c.name();
            switch (name) {
                case "SELECT" -> books.streamDb = Integer.parseInt(new String(c.argv()[1], StandardCharsets.US_ASCII));
                case "MULTI", "EXEC", "PING", "REPLCONF", "PUBLISH", "SPUBLISH" -> {
                }
                default -> {
                    filter.requireSelected(c);
                    boolean flushAll = name.equals("FLUSHALL"); // every database of the source, database 0 included
                    if (books.streamDb != 0 && !flushAll) {
                        continue;
                    }
                    byte[][] argv = filter.filtered(c);
                    if (argv == null) {
                        continue;
                    }
                    List<byte[]> keys = filter.commands.keys(argv);
                    if (keys.isEmpty()) {
                        if (!RedisCommandTable.SERVER_WIDE.contains(name) || name.equals("SWAPDB")) {
                            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source ran " + name + ", which a cluster target "
                                    + "cannot take (a cluster has database 0 only and routes commands by key)",
                                    "migrate into a standalone target, or stop the application from running " + name + " during the migration; "
                                            + "then start this migration afresh");
                        }
                        if (name.equals("FLUSHALL") || name.equals("FLUSHDB")) {
                            filter.requireNoKeyFilter(name);
                        }
                        commitSlots(bySlot, slotEnd);
                        bySlot.clear();
                        slotEnd.clear();
                        applyEverywhere(argv, c.end());
                        count++;
                        continue;
                    }
                    int slot = books.target.slot(keys.get(0));
                    boolean oneSlot = keys.stream().allMatch(k -> books.target.slot(k) == slot);
                    if (oneSlot) {
                        if (c.end() > slotOffset(slot)) {
                            bySlot.computeIfAbsent(slot, k -> new ArrayList<>()).add(argv);
                            slotEnd.put(slot, c.end());
                        }
                    } else {
                        List<byte[][]> parts = RedisCommandTable.split(argv);
                        if (parts == null) {
                            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source ran " + name + " on keys in different "
                                    + "cluster slots (" + keys.size() + " keys, first " + RedisKeyParity.display(new String(keys.get(0),
                                    StandardCharsets.ISO_8859_1)) + "); a cluster cannot run it atomically across slots",
                                    "give related keys a common hash tag ({user:1}:a, {user:1}:b) so they share a slot, or migrate into a "
                                            + "standalone target; then start this migration afresh");
                        }
                        for (byte[][] part : parts) {
                            int s = books.target.slot(part[1]); // split parts carry their key first
                            if (c.end() > slotOffset(s)) { // else this slot applied it before the restart
                                bySlot.computeIfAbsent(s, k -> new ArrayList<>()).add(part);
                                slotEnd.put(s, c.end());
                            }
                        }
                    }
                    count++;
                }
            }
        }
        commitSlots(bySlot, slotEnd);
        Command last = batch.get(batch.size() - 1);
        RedisCheckpoint base = books.checkpoint;
        RedisCheckpoint next = base.at(base.replId(), Math.max(last.end(), base.offset()), books.streamDb)
                .with(base.phase(), appliedEvents.get() + count, base.keysRestored(), base.sync());
        byte[] key = RedisTargetNodes.bytes(RedisCheckpoint.key(plan.name()));
        RespConnection node = books.target.node(books.target.slot(key));
        byte[][] commit = RedisContinuity.commit(RedisCheckpoint.key(plan.name()), base.offset(), next.fields());
        RedisTargetNodes.send(node, commit); // written only where the target still holds the last one
        if (node.getOne() instanceof JedisDataException d) {
            if (RedisContinuity.lost(d.getMessage())) {
                throw RedisContinuity.failure(plan.name(), d.getMessage(), null);
            }
            throw RedisTargetWrites.refused(commit, d, false);
        }
        books.checkpoint = next;
        return count;
    }

    /** The offset a slot has applied up to, in this replication history (-1: none). */
    long slotOffset(int slot) {
        return books.slotOffsets.getOrDefault(slot, -1L);
    }

    /**
     * A server-wide command (FLUSHALL, FUNCTION LOAD ...) on every master, each in a MULTI/EXEC with the offset of one slot
     * that master owns; a master whose marker already holds the offset ran it before a restart and is skipped.
     */
    void applyEverywhere(byte[][] argv, long end) {
        for (Map.Entry<RespConnection, Integer> e : books.target.slotPerMaster().entrySet()) {
            int slot = e.getValue();
            if (end <= slotOffset(slot)) {
                continue;
            }
            List<byte[][]> out = List.of(argv, slotSet(slot, end));
            RespConnection node = e.getKey();
            RedisTargetNodes.send(node, RedisTargetNodes.argv("MULTI"));
            out.forEach(a -> RedisTargetNodes.send(node, a));
            RedisTargetNodes.send(node, RedisTargetNodes.argv("EXEC"));
            writes.checkExec(node.getMany(out.size() + 2), out);
            books.slotOffsets.put(slot, end);
        }
    }

    /**
     * SET of a slot's offset, tagged with the replication id so a later history never reads it; done only while the slot
     * still holds the offset this worker committed last ({@link RedisContinuity#slotCommit}).
     */
    byte[][] slotSet(int slot, long end) {
        return RedisContinuity.slotCommit(RedisCheckpoint.slotKey(plan.name(), slot), books.checkpoint.replId(), books.slotOffsets.get(slot), end);
    }

    /**
     * Before a new history's first slot transaction: every slot's offset and mark of an earlier one is removed (none may
     * pass for it), whichever replication id it carries: one pipelined DEL per slot, on the node that owns it.
     */
    void clearSlotKeys() {
        Map<RespConnection, Integer> pending = new LinkedHashMap<>();
        for (int slot = 0; slot < RedisTargetNodes.SLOTS; slot++) {
            RespConnection node = books.target.node(slot);
            RedisTargetNodes.send(node, RedisTargetNodes.argv("DEL", RedisCheckpoint.slotKey(plan.name(), slot)));
            pending.merge(node, 1, Integer::sum);
        }
        pending.forEach((node, n) -> node.getMany(n));
        books.slotOffsets.clear();
        books.markedSlots.clear();
    }

    void commitSlots(Map<Integer, List<byte[][]>> bySlot, Map<Integer, Long> slotEnd) {
        if (bySlot.isEmpty()) {
            return;
        }
        Map<RespConnection, List<Integer>> byNode = new LinkedHashMap<>();
        for (int slot : bySlot.keySet()) {
            byNode.computeIfAbsent(books.target.node(slot), n -> new ArrayList<>()).add(slot);
        }
        for (Map.Entry<RespConnection, List<Integer>> e : byNode.entrySet()) {
            RespConnection node = e.getKey();
            int replies = 0;
            List<List<byte[][]>> sent = new ArrayList<>();
            for (int slot : e.getValue()) {
                List<byte[][]> out = new ArrayList<>(bySlot.get(slot));
                out.add(slotSet(slot, slotEnd.get(slot)));
                RedisTargetNodes.send(node, RedisTargetNodes.argv("MULTI"));
                for (byte[][] argv : out) {
                    RedisTargetNodes.send(node, argv);
                }
                RedisTargetNodes.send(node, RedisTargetNodes.argv("EXEC"));
                replies += out.size() + 2;
                sent.add(out);
            }
            List<Object> all = node.getMany(replies);
            int at = 0;
            for (int i = 0; i < sent.size(); i++) {
                List<byte[][]> out = sent.get(i);
                writes.checkExec(all.subList(at, at + out.size() + 2), out);
                at += out.size() + 2;
                int slot = e.getValue().get(i);
                books.slotOffsets.put(slot, slotEnd.get(slot));
            }
        }
    }
}
