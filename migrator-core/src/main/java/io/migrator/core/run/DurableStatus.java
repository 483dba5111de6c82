package io.migrator.core.run;

import io.migrator.core.plan.Plan;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.state.ChunkProgress;
import io.migrator.core.state.MigrationState;
import io.migrator.core.state.MigrationStatus;
import io.migrator.core.state.Phase;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The status of a migration whose worker is not running, read from what the worker keeps on the target: state,
 * journal, chunk marks and checkpoint. Lag and rates are null: without a worker nothing measures them.
 */
public final class DurableStatus {
    private DurableStatus() {
    }

    public static MigrationStatus read(Plan plan, TargetSession target) {
        MigrationState state = target.loadState().orElse(null);
        if (state == null) {
            return new MigrationStatus(plan.name(), Phase.PREFLIGHT, false, new MigrationStatus.Worker(false, null, null),
                    new MigrationStatus.Lag(null, null, null, null, null, null), new MigrationStatus.Snapshot(0, 0, 0, 0, List.of()),
                    new MigrationStatus.Applied(0, null, null), new MigrationStatus.Throughput(null, null),
                    MigrationStatus.Validation.never(), false, List.of(), null, 0, Instant.now().toString());
        }
        List<MigrationStatus.PhaseEntry> phases = new ArrayList<>();
        for (MigrationState entry : target.journal()) {
            phases.add(new MigrationStatus.PhaseEntry(entry.phase(), entry.updatedAt().toString(), entry.detail()));
        }
        Map<String, List<ChunkProgress>> byTable = new LinkedHashMap<>();
        for (ChunkProgress chunk : target.allChunks()) {
            byTable.computeIfAbsent(chunk.table().toString(), k -> new ArrayList<>()).add(chunk);
        }
        boolean copied = state.phase().ordinal() > Phase.SNAPSHOT.ordinal() && state.phase() != Phase.FAILED;
        List<MigrationStatus.TableProgress> tables = new ArrayList<>();
        long rows = 0;
        int done = 0;
        for (Map.Entry<String, List<ChunkProgress>> e : byTable.entrySet()) {
            long tableRows = e.getValue().stream().filter(ChunkProgress::done).mapToLong(ChunkProgress::rows).sum();
            int chunksDone = (int) e.getValue().stream().filter(ChunkProgress::done).count();
            boolean tableDone = copied || chunksDone == e.getValue().size();
            tables.add(new MigrationStatus.TableProgress(e.getKey(), tableRows, tableRows, chunksDone, e.getValue().size(), tableDone));
            rows += tableRows;
            done += tableDone ? 1 : 0;
        }
        MigrationStatus.Problem error = null;
        if (state.phase() == Phase.FAILED) {
            error = new MigrationStatus.Problem("FAILED", state.detail(), "read the worker's log for the remedy, fix the cause, then "
                    + "`migrator run` again: it resumes from the last good phase");
        }
        String position = target.checkpoint().map(p -> p.text()).orElse(null);
        return new MigrationStatus(plan.name(), state.phase(), false, new MigrationStatus.Worker(false, null, null),
                new MigrationStatus.Lag(null, null, null, null, null, null), new MigrationStatus.Snapshot(done, tables.size(), rows, rows, tables),
                new MigrationStatus.Applied(target.appliedEvents(), position, null), new MigrationStatus.Throughput(null, null),
                target.lastValidation().map(io.migrator.core.validate.ValidationService::summary).orElse(MigrationStatus.Validation.never()),
                false, phases, error, 0, Instant.now().toString());
    }
}
