package io.migrator.core.apply;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.error.Retry;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.DdlJudge;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source's DDL as the stream meets it, judged once by the target's {@link DdlJudge} (MySQL/MariaDB: from the
 * table's definition before and after the statement) or {@link DdlPolicy}: what it decides to replay runs on the target,
 * statements on tables outside the plan and server housekeeping are skipped, anything else stops the stream with a
 * remedy, unless the DBA already made the target's table match by hand. Also keeps the
 * tables' current definitions for repairs, read again only after a statement changed a table's shape.
 */
final class SchemaChanges {
    private static final Logger LOG = LoggerFactory.getLogger(SchemaChanges.class);

    private final SourceSession source;
    private final TargetSession target;
    private final TableFilter tables;
    private final String sourceDatabase;
    private final Retry retry;
    /** Made at the first statement: a judge may read the target's tables then (the target is where the stream brought it). */
    private DdlJudge judge;
    private final AtomicLong changed = new AtomicLong();
    private volatile long definitionsAt = -1;
    private volatile Map<TableId, TableDef> definitions = Map.of();

    SchemaChanges(SourceSession source, TargetSession target, TableFilter tables, String sourceDatabase, Retry retry) {
        this.source = source;
        this.target = target;
        this.tables = tables;
        this.sourceDatabase = sourceDatabase;
        this.retry = retry;
    }

    /** Replays, skips or refuses one statement the stream delivered, before the rows that follow it in the batch. */
    void apply(String ddl) {
        if (judge == null) {
            judge = target.ddlJudge(source, tables, sourceDatabase).orElse(DdlPolicy::decide);
        }
        DdlJudge.Decision decision = judge.judge(ddl);
        Optional<String> table = decision.table();
        if (table.isPresent() && !tables.includes(sourceDatabase, table.get())) {
            LOG.debug("ignored DDL on a table outside the plan: {}", decision.summary());
            return;
        }
        switch (decision.verdict()) {
            case APPLY -> {
                for (String statement : decision.statements()) {
                    retry.run("applying DDL", () -> target.applyDdl(statement));
                }
                changed.incrementAndGet();
                LOG.info("replayed source DDL on the target: {}{}", decision.summary(), decision.statements().equals(List.of(ddl)) ? ""
                        : " (as: " + String.join("; ", decision.statements()) + ")");
            }
            case IGNORE -> {
                if (decision.reason().isEmpty()) {
                    LOG.debug("ignored source statement: {}", decision.summary());
                } else {
                    LOG.info("not replayed on the target: {}: {}", decision.summary(), decision.reason());
                }
            }
            case REFUSE -> {
                if (!matchedByHand(table)) {
                    throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source ran DDL that migrator does not replay: "
                            + decision.summary() + (decision.reason().isEmpty() ? "" : " (" + decision.reason() + ")"),
                            "only added columns and indexes, new tables and TRUNCATE are replayed: apply the same change to the target "
                                    + "by hand, then restart with `migrator run`; the stream steps over this statement once the target's "
                                    + "table matches the source's");
                }
                changed.incrementAndGet(); // the table's shape changed: definitions are read again
                LOG.info("the target's {} already matches the source after: {} (applied by hand); the stream goes on", table.get(),
                        decision.summary());
            }
        }
    }

    /** Whether the table a refused statement changed now has the same columns on the target as on the source. */
    private boolean matchedByHand(Optional<String> table) {
        if (table.isEmpty()) {
            return false;
        }
        return source.tables(tables).stream().filter(t -> t.id().name().equals(table.get())).findFirst()
                .map(t -> target.differences(t).isEmpty()).orElse(false);
    }

    /**
     * The table's definition as of now: once the stream applied DDL (ADD COLUMN) since the definitions were read, they
     * are read again, so a repair writes the new columns too. Otherwise the ones read before serve (no catalog reads per
     * repair batch).
     */
    TableDef current(TableDef stale) {
        long seen = changed.get();
        if (seen != definitionsAt) {
            Map<TableId, TableDef> read = new HashMap<>();
            source.tables(tables).forEach(t -> read.put(t.id(), t));
            definitions = read;
            definitionsAt = seen;
        }
        return definitions.getOrDefault(stale.id(), stale);
    }
}
