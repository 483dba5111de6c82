package io.migrator.connectors.redis;

import static io.migrator.connectors.redis.RedisTargetNodes.bytes;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import redis.clients.jedis.exceptions.JedisConnectionException;

/**
 * A Redis migration's bookkeeping on the target read and removed without a worker: status from the checkpoint and the
 * journal, whether the target is empty or holds a checkpoint (preflight), and {@code migrator complete}'s cleanup.
 */
final class RedisStoredState {
    private RedisStoredState() {
    }

    /** Which of the target's databases (every master's database 0 on a cluster) hold keys other than bookkeeping; null when none. */
    static String occupied(RedisTargetNodes target, List<Integer> databases) {
        for (RespConnection node : target.masters()) {
            for (int db : target.cluster() ? List.of(0) : databases) {
                if (!target.cluster()) {
                    RedisTargetNodes.send(node, RedisTargetNodes.argv("SELECT", Integer.toString(db)));
                    node.getOne();
                }
                long size = (Long) node.execute(RedisTargetNodes.argv("DBSIZE"));
                long ours = size == 0 ? 0 : countBookkeeping(node); // other migrations' checkpoints are not data
                if (size > ours) {
                    return (target.cluster() ? "cluster" : "database " + db) + " already holds " + (size - ours) + " keys";
                }
            }
        }
        return null;
    }

    /** Whether the target holds this migration's checkpoint. */
    static boolean hasCheckpoint(RedisTargetNodes target, String plan) {
        byte[] key = bytes(RedisCheckpoint.key(plan));
        RespConnection node = target.node(target.slot(key));
        if (!target.cluster()) {
            RedisTargetNodes.send(node, RedisTargetNodes.argv("SELECT", "0"));
            node.getOne();
        }
        RedisTargetNodes.send(node, new byte[][] {bytes("EXISTS"), key});
        return (Long) node.getOne() > 0;
    }

    /** The journal's entries ("PHASE|at|detail", oldest first) from an LRANGE reply. */
    static List<MigrationStatus.PhaseEntry> journalEntries(Object reply) {
        List<MigrationStatus.PhaseEntry> entries = new ArrayList<>();
        if (reply instanceof List<?> list) {
            for (Object e : list) {
                String[] parts = RedisCommandTable.text(e).split("\\|", 3);
                if (parts.length == 3) {
                    entries.add(new MigrationStatus.PhaseEntry(Phase.valueOf(parts[0]), parts[1], parts[2]));
                }
            }
        }
        return entries;
    }

    /** Status from the target's bookkeeping while no worker runs. */
    static MigrationStatus stored(Plan plan) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            byte[] key = bytes(RedisCheckpoint.key(plan.name()));
            RespConnection node = nodes.node(nodes.slot(key));
            RedisTargetNodes.send(node, new byte[][] {bytes("HGETALL"), key});
            RedisCheckpoint cp = RedisCheckpoint.parse(node.getOne());
            byte[] journal = bytes(RedisCheckpoint.journalKey(plan.name()));
            RespConnection jnode = nodes.node(nodes.slot(journal));
            RedisTargetNodes.send(jnode, new byte[][] {bytes("LRANGE"), journal, bytes("0"), bytes("-1")});
            List<MigrationStatus.PhaseEntry> phases = journalEntries(jnode.getOne());
            Phase p = cp == null ? Phase.PREFLIGHT : cp.phase();
            if (!phases.isEmpty() && phases.get(phases.size() - 1).phase() == Phase.FAILED) {
                p = Phase.FAILED;
            }
            String cutover = RedisCutoverJournal.state(node, plan.name());
            if (cutover != null) { // a cutover keeps its state beside the stream's checkpoint; a failure inside it stays inside it
                p = "cut-over".equals(cutover) ? Phase.CUT_OVER : Phase.CUTTING_OVER;
            }
            List<Integer> dbs = plan.source().databases().isEmpty() ? List.of(0) : plan.source().databases();
            boolean synced = p == Phase.CATCH_UP || p == Phase.STREAMING;
            List<MigrationStatus.TableProgress> tables = new ArrayList<>();
            for (int db : dbs) { // without a worker: the keys each database holds on the target now (bookkeeping aside)
                long held = 0;
                for (RespConnection master : nodes.masters()) {
                    if (!nodes.cluster()) {
                        master.execute(RedisTargetNodes.argv("SELECT", Integer.toString(db)));
                    }
                    held += master.execute(RedisTargetNodes.argv("DBSIZE")) instanceof Long n ? n : 0;
                }
                if (db == 0) {
                    held = Math.max(0, held - bookkeepingKeys(nodes));
                }
                tables.add(new MigrationStatus.TableProgress("db" + db, held, held, synced ? 1 : 0, 1, synced));
            }
            long keys = cp == null ? 0 : cp.keysRestored();
            MigrationStatus.Problem problem = null;
            if (p == Phase.FAILED && !phases.isEmpty()) {
                problem = new MigrationStatus.Problem("FAILED", phases.get(phases.size() - 1).detail(), "read the worker's log for the remedy, "
                        + "fix the cause, then `migrator run` again: it resumes from the target's checkpoint");
            }
            return new MigrationStatus(plan.name(), p, false, new MigrationStatus.Worker(false, null, null),
                    new MigrationStatus.Lag(null, null, null, null, null, null),
                    new MigrationStatus.Snapshot(synced ? dbs.size() : 0, dbs.size(), keys, keys, tables),
                    new MigrationStatus.Applied(cp == null ? 0 : cp.events(), cp == null || cp.offset() < 0 ? null : cp.position(), null),
                    new MigrationStatus.Throughput(null, null), MigrationStatus.Validation.never(), false, phases, problem, 0,
                    Instant.now().toString());
        } catch (JedisConnectionException e) {
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "cannot reach the target Redis at " + plan.target().address() + ": "
                    + e.getMessage(), "check that it runs; then ask again", e);
        }
    }

    /** How many bookkeeping keys (checkpoints, journals, slot offsets of any migration) the target's database 0 holds. */
    private static long bookkeepingKeys(RedisTargetNodes nodes) {
        long count = 0;
        for (RespConnection node : nodes.masters()) {
            if (!nodes.cluster()) {
                node.execute(RedisTargetNodes.argv("SELECT", "0"));
            }
            count += countBookkeeping(node);
        }
        return count;
    }

    /** Bookkeeping keys in the database the connection has selected (a SCAN, so a big database is not blocked). */
    private static long countBookkeeping(RespConnection node) {
        long count = 0;
        byte[] cursor = bytes("0");
        do {
            List<?> reply = (List<?>) node.execute(new byte[][] {bytes("SCAN"), cursor, bytes("MATCH"),
                    bytes(RedisCheckpoint.PREFIX + "*"), bytes("COUNT"), bytes("1000")});
            cursor = (byte[]) reply.get(0);
            count += ((List<?>) reply.get(1)).size();
        } while (!Arrays.equals(cursor, bytes("0")));
        return count;
    }

    /** How many bookkeeping keys this migration keeps on the target (what {@link #forget} would remove). */
    static long bookkeepingKeys(Plan plan) {
        return eachBookkeepingKey(plan, false);
    }

    /** Removes this migration's bookkeeping keys from the target; returns what it removed. */
    static List<String> forget(Plan plan) {
        List<String> removed = new ArrayList<>();
        long count = eachBookkeepingKey(plan, true);
        if (count > 0) {
            removed.add(count + " bookkeeping keys " + RedisCheckpoint.PREFIX + plan.name() + ":* (checkpoint, journal, slot offsets)");
        }
        return removed;
    }

    /** Scans every master of the target for this migration's bookkeeping keys, deleting them with {@code delete}; how many. */
    private static long eachBookkeepingKey(Plan plan, boolean delete) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(30))) {
            String pattern = RedisCheckpoint.PREFIX + plan.name() + ":*";
            long count = 0;
            for (RespConnection node : nodes.masters()) {
                byte[] cursor = bytes("0");
                do {
                    RedisTargetNodes.send(node, new byte[][] {bytes("SCAN"), cursor, bytes("MATCH"), bytes(pattern), bytes("COUNT"), bytes("1000")});
                    List<?> reply = (List<?>) node.getOne();
                    cursor = (byte[]) reply.get(0);
                    List<?> keys = (List<?>) reply.get(1);
                    if (delete) {
                        for (Object k : keys) {
                            RedisTargetNodes.send(node, new byte[][] {bytes("DEL"), (byte[]) k});
                        }
                        if (!keys.isEmpty()) {
                            node.getMany(keys.size());
                        }
                    }
                    count += keys.size();
                } while (!Arrays.equals(cursor, bytes("0")));
            }
            return count;
        }
    }
}
