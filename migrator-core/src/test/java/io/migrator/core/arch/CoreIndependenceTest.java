package io.migrator.core.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * migrator-core defines the interfaces; drivers, Debezium connectors and Redis clients stay in connectors. Inside core the
 * packages read in one direction, as ARCHITECTURE.md draws them: the foundation (errors, change events, schemas, the state
 * and status model) under the plan, the plan under the engine interfaces ({@code spi}), those under the parts that do the
 * work (snapshot, apply, validate, preflight: none of them uses another), those under the worker ({@code run}), and the
 * worker under what observes it ({@code observe}).
 */
class CoreIndependenceTest {
    private static final JavaClasses CORE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.migrator.core");

    @Test
    void coreUsesNoDatabaseDriverNoDebeziumConnectorAndNoRedisClient() {
        noClasses().should().dependOnClassesThat().resideInAnyPackage(
                        "com.mysql..", "org.mariadb..", "org.postgresql..",
                        "io.debezium.connector..", "io.debezium.embedded..",
                        "redis.clients..", "com.moilioncircle..", "com.zaxxer..")
                .because("migrator-core must not depend on engines (ARCHITECTURE.md: parts and where they live)")
                .check(CORE);
    }

    @Test
    void corePackagesDependInOneDirection() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("foundation").definedBy("io.migrator.core.error..", "io.migrator.core.change..", "io.migrator.core.schema..",
                        "io.migrator.core.state..")
                .layer("plan").definedBy("io.migrator.core.plan..")
                .layer("spi").definedBy("io.migrator.core.spi..")
                .layer("snapshot").definedBy("io.migrator.core.snapshot..")
                .layer("apply").definedBy("io.migrator.core.apply..")
                .layer("validate").definedBy("io.migrator.core.validate..")
                .layer("preflight").definedBy("io.migrator.core.preflight..")
                .layer("cutover").definedBy("io.migrator.core.cutover..")
                .layer("run").definedBy("io.migrator.core.run..")
                .layer("observe").definedBy("io.migrator.core.observe..")
                .whereLayer("observe").mayNotBeAccessedByAnyLayer()
                .whereLayer("run").mayOnlyBeAccessedByLayers("observe")
                .whereLayer("cutover").mayOnlyBeAccessedByLayers("run", "observe")
                .whereLayer("snapshot").mayOnlyBeAccessedByLayers("run", "observe")
                .whereLayer("apply").mayOnlyBeAccessedByLayers("cutover", "run", "observe")
                .whereLayer("validate").mayOnlyBeAccessedByLayers("run", "observe")
                .whereLayer("preflight").mayOnlyBeAccessedByLayers("run", "observe")
                .whereLayer("spi").mayOnlyBeAccessedByLayers("snapshot", "apply", "validate", "preflight", "cutover", "run", "observe")
                .whereLayer("plan").mayOnlyBeAccessedByLayers("spi", "snapshot", "apply", "validate", "preflight", "cutover", "run", "observe")
                .because("core's packages read in one direction: plan → spi → snapshot / apply / validate → run → observe")
                .check(CORE);
    }

    @Test
    void theRulesSeeTheCoreClasses() {
        org.assertj.core.api.Assertions.assertThat(CORE.contain(io.migrator.core.plan.PlanLoader.class)).isTrue();
        org.assertj.core.api.Assertions.assertThat(CORE.contain(io.migrator.core.run.Migration.class)).isTrue();
        org.assertj.core.api.Assertions.assertThat(CORE.contain(io.migrator.core.apply.StreamPlayer.class)).isTrue();
    }
}
