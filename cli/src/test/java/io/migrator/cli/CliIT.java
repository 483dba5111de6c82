package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The CLI against real servers: example plans check clean, and the sandbox leaves nothing behind. */
@ExtendWith(SandboxExtension.class)
class CliIT {
    private static final Path PLANS = Path.of(System.getProperty("migrator.root", "..")).resolve("plans");

    @Test
    void everyExamplePlanChecksCleanAgainstTheSandbox(SandboxServers servers) throws IOException {
        List<Path> plans;
        try (Stream<Path> files = Files.list(PLANS)) {
            plans = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertThat(plans).hasSizeGreaterThanOrEqualTo(4);
        for (Path plan : plans) {
            CliRun run = CliRun.of("plan", "check", plan.toString(), "-o", "json");
            assertThat(run.exit()).as("%s\n%s\n%s", plan, run.out(), run.err()).isZero();
            JsonNode doc = run.json();
            assertThat(doc.get("ok").asBoolean()).isTrue();
            assertThat(doc.get("endpoints")).hasSize(2);
            doc.get("endpoints").forEach(e -> assertThat(e.get("reachable").asBoolean()).isTrue());
            assertThat(run.out()).doesNotContain(servers.mariadbSource().password()).doesNotContain(servers.redisSource().password());
        }
    }

    @Test
    void unreachableServerExits6WithTheAddress(@TempDir Path dir) throws IOException {
        Path plan = dir.resolve("down.yaml");
        Files.writeString(plan, Files.readString(PLANS.resolve("postgresql-to-postgresql.yaml"))
                .replace("port: 15433", "port: 1")
                .replace("${file:../.sandbox/", "${file:" + PLANS.getParent().resolve(".sandbox") + "/"));
        CliRun run = CliRun.of("plan", "check", plan.toString(), "--connect-timeout", "2s");
        assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(6);
        assertThat(run.out()).contains("UNREACHABLE").contains("127.0.0.1:1").contains("remedy:");
    }

    @Test
    void sandboxUpThenDownLeavesNoServerProcessBehind() throws IOException {
        // Under target/, not /tmp: as root, PostgreSQL runs as 'postgres', which cannot enter JUnit's private temp folders.
        Path dir = Path.of("target", "sandbox-up-down-it").toAbsolutePath();
        deleteRecursively(dir);
        String sandboxDir = dir.toString();
        try {
            upTwiceThenDown(sandboxDir);
        } finally {
            CliRun.of("sandbox", "down", "--dir", sandboxDir);
        }
    }

    private static void upTwiceThenDown(String sandboxDir) throws IOException {
        // offset 5000: every port (cluster bus ports too) stays below 32768, out of Linux's ephemeral range, where an
        // outgoing connection may hold the same local port and make the server's bind fail
        CliRun up = CliRun.of("sandbox", "up", "--dir", sandboxDir, "--port-offset", "5000", "--proxies", "-o", "json");
        assertThat(up.exit()).as(up.out() + up.err()).isZero();
        JsonNode servers = up.json().get("servers");
        assertThat(servers).hasSize(10);
        List<String> proxies = new ArrayList<>();
        servers.forEach(s -> {
            if (s.get("role").asText().equals("proxy")) {
                proxies.add(s.get("name").asText() + " " + s.get("port").asInt());
            }
        });
        assertThat(proxies).as("the application's endpoints, moved by the offset")
                .containsExactly("haproxy-mariadb 18300", "pgbouncer 20400", "haproxy-redis 21300");
        List<Long> pids = new ArrayList<>();
        servers.forEach(s -> {
            assertThat(s.get("state").asText()).as(s.toString()).isEqualTo("running");
            assertThat(s.get("password").asText()).startsWith("sbx-");
            pids.add(s.get("pid").asLong());
        });
        assertThat(servers.get(0).get("port").asInt()).isEqualTo(18306);
        assertThat(processesMentioning(sandboxDir)).hasSizeGreaterThanOrEqualTo(12);

        CliRun again = CliRun.of("sandbox", "up", "--dir", sandboxDir, "-o", "json");
        assertThat(again.exit()).isZero();
        List<Long> samePids = new ArrayList<>();
        again.json().get("servers").forEach(s -> samePids.add(s.get("pid").asLong()));
        assertThat(samePids).as("up twice reuses the running servers").isEqualTo(pids);

        CliRun down = CliRun.of("sandbox", "down", "--dir", sandboxDir, "-o", "json");
        assertThat(down.exit()).isZero();
        down.json().get("servers").forEach(s -> {
            assertThat(s.get("state").asText()).isEqualTo("stopped");
            assertThat(s.has("password")).as("down does not print credentials").isFalse();
        });
        assertThat(processesMentioning(sandboxDir)).isEmpty();
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** Processes whose command line or working directory names the folder. */
    private static List<String> processesMentioning(String dir) throws IOException {
        List<String> found = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path proc : procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
                try {
                    String cmd = Files.readString(proc.resolve("cmdline"), StandardCharsets.UTF_8).replace('\0', ' ');
                    String cwd = Files.readSymbolicLink(proc.resolve("cwd")).toString();
                    if (cmd.contains(dir) || cwd.startsWith(dir)) {
                        found.add(proc.getFileName() + " " + cmd);
                    }
                } catch (IOException | SecurityException e) {
                    // the process ended while we looked
                }
            }
        }
        return found;
    }
}
