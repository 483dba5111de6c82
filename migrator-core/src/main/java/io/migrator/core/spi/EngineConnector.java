package io.migrator.core.spi;

import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Plan;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * The entry point of one engine family, found through {@link java.util.ServiceLoader}. Core code talks
 * to databases only through this and the interfaces it hands out.
 */
public interface EngineConnector {
    /** The engines this connector serves. */
    Set<Engine> engines();

    /**
     * Connects, authenticates and reads the server's identity.
     *
     * @throws io.migrator.core.error.MigratorException with {@code CANNOT_CONNECT} naming host, port and the
     *         reason (never the password) and a remedy
     */
    ServerInfo probe(Endpoint endpoint, Role role, Duration timeout);

    /** Opens the source side of a plan. */
    default SourceSession openSource(Plan plan) {
        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.NOT_AVAILABLE,
                "migrating from " + plan.source().engine() + " is not available in this build yet",
                "MySQL and MariaDB sources are; the other engines arrive with their pipelines");
    }

    /** Opens the target side of a plan, bookkeeping included. */
    default TargetSession openTarget(Plan plan) {
        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.NOT_AVAILABLE,
                "migrating into " + plan.target().engine() + " is not available in this build yet",
                "MySQL and MariaDB targets are; the other engines arrive with their pipelines");
    }

    /**
     * Key parity for key-value engines (Redis), comparing source and target as they are; row engines validate through
     * {@link SourceSession#checksums()} instead.
     */
    default io.migrator.core.validate.ValidationReport validateKeys(Plan plan, boolean repair) {
        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.NOT_AVAILABLE,
                "key parity is not available for " + plan.source().engine(), "validate tables with `migrator validate` on SQL engines");
    }

    /**
     * Whether the target already holds this migration's durable state (a restart, not a first start). Checks meant for the
     * start of the copy (slots and retention estimated for it, memory against the whole dataset, target tables that exist)
     * are then warnings at the gate of `migrator run`: a restart past them must not be refused.
     */
    default boolean resumes(Plan plan) {
        return false;
    }

    /** The preflight assessments of this engine for one side of the plan; empty until the engine's pipeline lands. */
    default List<Assessment> preflight(Plan plan, Role role, ServerInfo server) {
        return List.of();
    }

    /**
     * The worker of a key-value engine (Redis), which moves data its own way instead of through tables and sessions; null for
     * row engines, which `migrator run` drives with the shared {@link io.migrator.core.run.Migration}.
     */
    default io.migrator.core.run.Worker worker(Plan plan) {
        return null;
    }

    /**
     * The worker that holds a migration's claim on the target, as it registered itself (its API address may differ from
     * the plan's control.listen); empty when none runs. Row engines ask their target session; engines with their own
     * worker read their own registration.
     */
    default java.util.Optional<io.migrator.core.run.WorkerRecord> registeredWorker(io.migrator.core.plan.Plan plan,
            java.util.function.Supplier<TargetSession> target) {
        return target.get().registeredWorker();
    }

    /** What a key-value engine's target keeps about a migration while no worker runs (status, wait); null for row engines. */
    default io.migrator.core.run.MigrationStatus storedStatus(Plan plan) {
        return null;
    }

    /** Ends a key-value engine's migration: removes its bookkeeping from the target; what was removed. Null for row engines. */
    default List<String> complete(Plan plan) {
        return null;
    }
}
