package io.migrator.core.run;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.state.ChunkProgress;
import io.migrator.core.state.MigrationState;
import io.migrator.core.state.Phase;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Before a restart resumes past SCHEMA: the tables the migration copied are still on the target. A target that was
 * reset or restored while its bookkeeping survived (MySQL keeps it in a database of its own) would otherwise take the
 * stream's changes onto rows that are not there, and the migration would go on as if nothing were missing. Only tables
 * with a chunk plan count: a table the stream itself creates later (replayed CREATE TABLE) is not the copy's.
 *
 * <p>Emptied tables are judged together, not one by one: every table the copy wrote rows into is empty on the target
 * while the source still has rows. A single emptied table can be the stream's own doing (a replayed TRUNCATE before the
 * inserts that follow it), every table at once is a reset.
 */
final class ResumeCheck {
    private ResumeCheck() {
    }

    static void requireCopiedTables(Plan plan, MigrationState state, List<TableDef> tables, List<ChunkProgress> chunks,
                                    SourceSession source, TargetSession target) {
        Phase at = state.phase() == Phase.FAILED ? state.failedIn() : state.phase();
        if (at == null || at.ordinal() < Phase.SNAPSHOT.ordinal() || at.ordinal() > Phase.STREAMING.ordinal()) {
            return; // SCHEMA creates what is missing; past the cutover the target is the application's
        }
        Map<TableId, Long> copiedRows = new LinkedHashMap<>();
        for (ChunkProgress chunk : chunks) {
            copiedRows.merge(chunk.table(), chunk.done() ? chunk.rows() : 0, Long::sum);
        }
        List<TableDef> copied = tables.stream().filter(t -> copiedRows.containsKey(t.id())).toList();
        String where = "migration " + plan.name() + " exists on the target (phase " + state.phase()
                + (state.startPosition() == null ? "" : ", started at " + state.startPosition().text()) + ")";
        List<TableId> missing = target.missingTables(copied);
        if (!missing.isEmpty()) {
            throw stale(plan, where + " but tables it copied are missing there: " + names(missing));
        }
        List<TableDef> filled = copied.stream().filter(t -> copiedRows.get(t.id()) > 0).toList();
        if (filled.isEmpty() || filled.stream().anyMatch(target::hasRows) || filled.stream().noneMatch(source::hasRows)) {
            return;
        }
        throw stale(plan, where + " but every table it copied rows into is empty there while the source has rows: "
                + names(filled.stream().map(TableDef::id).toList()));
    }

    private static String names(List<TableId> tables) {
        return String.join(", ", tables.stream().map(TableId::toString).toList());
    }

    private static MigratorException stale(Plan plan, String message) {
        return new MigratorException(ErrorCode.STALE_STATE, message + ": the target was reset or restored since",
                "start the migration over: `migrator complete " + plan.file() + "` drops its state (and its slot), then `migrator run "
                        + plan.file() + "` copies afresh; if the target was restored by mistake, restore the state the migration left instead");
    }
}
