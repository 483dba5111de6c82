package io.migrator.connectors.postgres;

import io.migrator.sandbox.junit.SandboxExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;

/** Integration tests on a throwaway {@link PostgresFixture} database pair, dropped after each test. */
@ExtendWith(SandboxExtension.class)
abstract class PostgresFixtureBase {
    protected PostgresFixture fixture;

    @AfterEach
    void dropFixture() throws Exception {
        if (fixture != null) {
            fixture.close();
        }
    }
}
