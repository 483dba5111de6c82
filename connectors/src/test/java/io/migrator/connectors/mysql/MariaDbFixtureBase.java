package io.migrator.connectors.mysql;

import io.migrator.sandbox.junit.SandboxExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;

/** Integration tests on a throwaway {@link MariaDbFixture} database pair, dropped after each test. */
@ExtendWith(SandboxExtension.class)
abstract class MariaDbFixtureBase {
    protected MariaDbFixture fixture;

    @AfterEach
    void dropFixture() {
        if (fixture != null) {
            fixture.drop();
        }
    }
}
