package io.migrator.core.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** migrator-core defines the interfaces; drivers, Debezium connectors and Redis clients stay in connectors. */
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
    void theRuleSeesTheCoreClasses() {
        org.assertj.core.api.Assertions.assertThat(CORE.contain(io.migrator.core.plan.PlanLoader.class)).isTrue();
    }
}
