package io.migrator.core.cutover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The parts of the switch that need no server: HAProxy's configuration rewritten in place, and the user's programs. */
class SwitchesTest {
    private static final String CONFIG = """
            global
                stats socket ipv4@127.0.0.1:13399 level admin
            frontend mariadb_in
                bind 127.0.0.1:13300
                default_backend mariadb
            backend other
                server primary 10.0.0.9:3306 check
            backend mariadb
                server primary 127.0.0.1:13306 check inter 2s
                server replica 127.0.0.1:13308
            """;

    @Test
    void theServerLineOfTheBackendPointsAtTheTargetAndNothingElseChanges(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("haproxy.cfg");
        Files.writeString(file, CONFIG);
        assertThat(Switches.rewriteConfig(file, "mariadb", "primary", "127.0.0.1:13307")).contains("127.0.0.1:13306 -> 127.0.0.1:13307");
        assertThat(Files.readString(file)).isEqualTo(CONFIG.replace("server primary 127.0.0.1:13306 check", "server primary 127.0.0.1:13307 check"));
        assertThat(Switches.rewriteConfig(file, "mariadb", "primary", "127.0.0.1:13307")).contains("already points at");
        assertThatThrownBy(() -> Switches.rewriteConfig(file, "mariadb", "standby", "127.0.0.1:13307"))
                .isInstanceOfSatisfying(MigratorException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CUTOVER_FAILED))
                .hasMessageContaining("no 'server standby' line in backend mariadb");
    }

    @Test
    void aProgramIsDoneAtExitZeroAndItsFailureCarriesItsOutput(@TempDir Path dir) {
        assertThat(Commands.runnable("sh")).isTrue();
        assertThat(Commands.runnable(dir.resolve("missing.sh").toString())).isFalse();
        assertThat(Commands.run(List.of("sh", "-c", "echo switched $MIGRATOR_PLAN"), Map.of("MIGRATOR_PLAN", "orders"), Duration.ofSeconds(10), "t"))
                .isEqualTo("switched orders");
        assertThatThrownBy(() -> Commands.run(List.of("sh", "-c", "echo no route; exit 3"), Map.of(), Duration.ofSeconds(10), "switch step"))
                .isInstanceOfSatisfying(MigratorException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CUTOVER_FAILED))
                .hasMessageContaining("exited 3").hasMessageContaining("no route");
        long started = System.nanoTime();
        assertThatThrownBy(() -> Commands.run(List.of("sleep", "30"), Map.of(), Duration.ofMillis(300), "freeze command"))
                .isInstanceOfSatisfying(MigratorException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMED_OUT));
        assertThat((System.nanoTime() - started) / 1_000_000).as("stopped at its limit").isLessThan(10_000);
    }
}
