package io.migrator.core.snapshot;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.TargetSession;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** SCHEMA: the target tables the copy writes into, created where missing; an existing one must match the source's. */
public final class TargetSchema {
    private static final Logger LOG = LoggerFactory.getLogger(TargetSchema.class);

    private TargetSchema() {
    }

    public static void create(TargetSession target, List<TableDef> tables) {
        List<TableId> missing = target.missingTables(tables);
        for (TableDef table : tables) {
            if (missing.contains(table.id())) {
                target.createTable(table);
                LOG.info("created target table {}", table.id());
            } else {
                List<String> differences = target.differences(table);
                if (!differences.isEmpty()) {
                    throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "target table " + table.id()
                            + " exists but differs from the source: " + String.join("; ", differences),
                            "drop the target table so migrator creates it, or make it match the source");
                }
            }
        }
    }
}
