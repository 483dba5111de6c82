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
     * How this engine moves the plan: core's row pipeline over the sessions above (the default), or a worker of its own.
     * Asked of the source's connector.
     */
    default EnginePipeline pipeline(Plan plan) {
        return new EnginePipeline.Rows();
    }
}
