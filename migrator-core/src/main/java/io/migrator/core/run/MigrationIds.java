package io.migrator.core.run;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.state.MigrationId;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A migration's name is not enough to know it: two plans with the same name (another target database, another source)
 * would share a PostgreSQL slot, which the second one's first start drops, or resume each other's state from the wrong
 * log. So the first run makes an id and records it on both sides, the target with the source it reads and the source
 * (per database) with the target it feeds; every start then compares them before anything else is written:
 *
 * <ul>
 *   <li>both sides hold the same id: this migration, carry on;</li>
 *   <li>they hold different ids, or one side holds an id recorded for another server or database than the other side
 *   of this plan: another migration uses the name between these servers, so stop and name it;</li>
 *   <li>one side holds an id recorded for exactly this plan's other side: this migration, whose first run stopped
 *   between its two records (or whose target bookkeeping was removed), so the missing record is written;</li>
 *   <li>neither holds one: a first run (or one from before ids existed), so record both.</li>
 * </ul>
 * A source that cannot keep ids (no privilege to create the table) leaves the target's record to judge alone: it then
 * compares the source as the plan names it.
 */
final class MigrationIds {
    private static final Logger LOG = LoggerFactory.getLogger(MigrationIds.class);

    private MigrationIds() {
    }

    static void settle(Plan plan, SourceSession source, TargetSession target) {
        String sourceName = describe(plan.source());
        String targetName = describe(plan.target());
        Optional<MigrationId> onTarget = target.migrationId();
        Optional<MigrationId> onSource = source.migrationId(plan.name());
        if (onTarget.isPresent() && onSource.isPresent()) {
            if (!onTarget.get().id().equals(onSource.get().id())) {
                throw taken(plan, "the target holds migration " + plan.name() + " started from " + onTarget.get().peer()
                        + ", and the source feeds a migration of that name into " + onSource.get().peer());
            }
            return;
        }
        if (onTarget.isPresent()) {
            if (!onTarget.get().peer().equals(sourceName)) {
                throw taken(plan, "the target holds migration " + plan.name() + " started from " + onTarget.get().peer()
                        + ", which this source (" + sourceName + ") does not know");
            }
            if (onTarget.get().peerKeepsId()) {
                // this very pair of servers, whose first run stopped between its two records: finish it
                source.recordMigrationId(plan.name(), new MigrationId(onTarget.get().id(), targetName, true));
            }
            return;
        }
        if (onSource.isPresent()) {
            if (!onSource.get().peer().equals(targetName)) {
                throw taken(plan, "the source already feeds migration " + plan.name() + " into " + onSource.get().peer()
                        + ", not into this target (" + targetName + ")");
            }
            // this pair again: a first run stopped between its records, or the target's bookkeeping was removed since
            target.recordMigrationId(new MigrationId(onSource.get().id(), sourceName, true));
            return;
        }
        String id = UUID.randomUUID().toString();
        boolean sourceKeeps = source.recordMigrationId(plan.name(), new MigrationId(id, targetName, true));
        target.recordMigrationId(new MigrationId(id, sourceName, sourceKeeps));
        LOG.info("migration {} is {} ({} -> {}){}", plan.name(), id, sourceName, targetName,
                sourceKeeps ? "" : "; the source cannot record it, so only the target checks the name");
    }

    static String describe(Endpoint endpoint) {
        return endpoint.engine().id() + "://" + endpoint.address() + "/" + endpoint.database();
    }

    private static MigratorException taken(Plan plan, String what) {
        return new MigratorException(ErrorCode.MIGRATION_NAME_TAKEN, what + ": another migration uses the name " + plan.name()
                + " between these servers", "give " + plan.file() + " a name of its own (name:), or end the other migration first "
                + "with `migrator complete` on its plan; nothing of either migration was changed");
    }
}
