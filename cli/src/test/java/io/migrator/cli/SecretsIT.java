package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.SandboxEngine;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.Jedis;

/**
 * Every command a DBA or a runbook runs, with the servers' real passwords in the plan (through {@code ${file:...}}): the
 * passwords appear nowhere — not in any command's stdout or stderr (text and JSON), not in the worker's log at {@code -vv},
 * not in {@code /metrics}, {@code /api/status} or the dashboard, not in the state folder. MariaDB (JDBC and the binlog
 * client), PostgreSQL (JDBC and the replication connection) and Redis (the replication library, whose AUTH line is off).
 */
@ExtendWith(SandboxExtension.class)
class SecretsIT {
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void noCommandOutputLogOrEndpointShowsAPassword(SandboxServers servers) throws Exception {
        servers.sandbox().up(EnumSet.of(SandboxEngine.MARIADB, SandboxEngine.POSTGRESQL, SandboxEngine.REDIS), false);
        String id = UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        Path dir = Files.createDirectories(Path.of("target", "secrets-" + id).toAbsolutePath());

        // MariaDB: a database with one table on the source
        SandboxEndpoint ms = servers.mariadbSource();
        SandboxEndpoint mt = servers.mariadbTarget();
        String mdb = "sec_" + id;
        try (Connection c = DriverManager.getConnection(ms.jdbcUrl(""), ms.user(), ms.password()); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + mdb);
            st.execute("USE " + mdb);
            st.execute("CREATE TABLE " + mdb + ".items (id INT PRIMARY KEY, v VARCHAR(20))");
            st.execute("INSERT INTO " + mdb + ".items SELECT seq, CONCAT('v', seq) FROM seq_1_to_500");
        }
        Files.writeString(dir.resolve("mariadb.pw"), ms.password());
        Path mariadb = dir.resolve("mariadb.yaml");
        Files.writeString(mariadb, """
                name: sec-m-%s
                source: {engine: mariadb, host: %s, port: %d, user: %s, password: "${file:%s}", database: %s}
                target: {engine: mariadb, host: %s, port: %d, user: %s, password: "${file:%s}", database: %s}
                """.formatted(id, ms.host(), ms.port(), ms.user(), dir.resolve("mariadb.pw"), mdb, mt.host(), mt.port(), mt.user(),
                dir.resolve("mariadb.pw"), mdb));

        // PostgreSQL: a database on both servers, one table on the source
        SandboxEndpoint ps = servers.postgresSource();
        SandboxEndpoint pt = servers.postgresTarget();
        String pdb = "sec_" + id;
        for (SandboxEndpoint e : List.of(ps, pt)) {
            try (Connection c = DriverManager.getConnection(e.jdbcUrl("postgres"), e.user(), e.password()); Statement st = c.createStatement()) {
                st.execute("CREATE DATABASE " + pdb);
            }
        }
        try (Connection c = DriverManager.getConnection(ps.jdbcUrl(pdb), ps.user(), ps.password()); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 500) g");
        }
        Files.writeString(dir.resolve("postgresql.pw"), ps.password());
        Path postgresql = dir.resolve("postgresql.yaml");
        Files.writeString(postgresql, """
                name: sec-p-%s
                source: {engine: postgresql, host: %s, port: %d, user: %s, password: "${file:%s}", database: %s}
                target: {engine: postgresql, host: %s, port: %d, user: %s, password: "${file:%s}", database: %s}
                """.formatted(id, ps.host(), ps.port(), ps.user(), dir.resolve("postgresql.pw"), pdb, pt.host(), pt.port(), pt.user(),
                dir.resolve("postgresql.pw"), pdb));

        // Redis: keys in database 13
        SandboxEndpoint rs = servers.redisSource();
        SandboxEndpoint rt = servers.redisTarget();
        for (SandboxEndpoint e : List.of(rs, rt)) {
            try (Jedis j = new Jedis(e.host(), e.port())) {
                j.auth(e.password());
                j.select(13);
                j.flushDB();
                if (e == rs) {
                    for (int i = 0; i < 200; i++) {
                        j.set("sec:" + i, Integer.toString(i));
                    }
                }
            }
        }
        Files.writeString(dir.resolve("redis.pw"), rs.password());
        Path redis = dir.resolve("redis.yaml");
        Files.writeString(redis, """
                name: sec-r-%s
                source: {engine: redis, host: %s, port: %d, password: "${file:%s}", databases: [13]}
                target: {engine: redis, host: %s, port: %d, password: "${file:%s}"}
                """.formatted(id, rs.host(), rs.port(), dir.resolve("redis.pw"), rt.host(), rt.port(), dir.resolve("redis.pw")));

        List<String> passwords = List.of(ms.password(), mt.password(), ps.password(), pt.password(), rs.password(), rt.password());
        try {
            for (Path plan : List.of(mariadb, postgresql, redis)) {
                List<String> seen = everyCommand(plan.toString(), dir.resolve(plan.getFileName() + ".worker.log"));
                for (String output : seen) {
                    for (String password : passwords) {
                        assertThat(output).as("output of %s", plan.getFileName()).doesNotContain(password);
                    }
                }
            }
            String workerLogs = String.join("\n", Files.readString(dir.resolve("mariadb.yaml.worker.log")),
                    Files.readString(dir.resolve("postgresql.yaml.worker.log")), Files.readString(dir.resolve("redis.yaml.worker.log")));
            assertThat(workerLogs).as("the workers logged at -vv").contains("DEBUG");
            assertThat(Files.readString(dir.resolve("redis.yaml.worker.log"))).as("the replication library's AUTH line is off")
                    .doesNotContain("AUTH #");
            try (Stream<Path> files = Files.walk(Path.of(System.getProperty("migrator.stateDir")))) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    String text = new String(Files.readAllBytes(f), StandardCharsets.UTF_8);
                    for (String password : passwords) {
                        assertThat(text).as("state file %s", f).doesNotContain(password);
                    }
                }
            }
        } finally {
            for (Path plan : List.of(mariadb, postgresql, redis)) {
                CliRun.of("complete", plan.toString(), "--yes");
            }
            try (Connection c = DriverManager.getConnection(ms.jdbcUrl(""), ms.user(), ms.password()); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + mdb);
            }
            try (Connection c = DriverManager.getConnection(mt.jdbcUrl(""), mt.user(), mt.password()); Statement st = c.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + mdb);
            }
            for (SandboxEndpoint e : List.of(ps, pt)) {
                try (Connection c = DriverManager.getConnection(e.jdbcUrl("postgres"), e.user(), e.password()); Statement st = c.createStatement()) {
                    st.execute("DROP DATABASE IF EXISTS " + pdb + " WITH (FORCE)");
                }
            }
        }
    }

    /** Runs what a DBA runs against one plan, the worker at -vv; every output, log and endpoint body seen. */
    private List<String> everyCommand(String plan, Path log) throws Exception {
        List<String> seen = new ArrayList<>();
        for (List<String> args : List.of(List.of("plan", "check", plan), List.of("plan", "check", plan, "-o", "json"),
                List.of("status", plan), List.of("status", plan, "-o", "json"))) {
            CliRun run = CliRun.of(args.toArray(new String[0]));
            seen.add(run.out() + run.err());
        }
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-jar", KillLoop.JAR.toString(), "run", plan, "--listen", "127.0.0.1:0", "-vv").redirectErrorStream(true)
                .redirectOutput(new File(log.toString()));
        builder.environment().put("MIGRATOR_STATE_DIR", System.getProperty("migrator.stateDir"));
        Process worker = builder.start();
        try {
            CliRun streaming = CliRun.of("wait", plan, "--for", "STREAMING", "--timeout", "120s", "-o", "json");
            seen.add(streaming.out() + streaming.err());
            assertThat(streaming.exit()).as(streaming.out() + streaming.err() + Files.readString(log)).isZero();
            for (List<String> args : List.of(List.of("status", plan), List.of("status", plan, "-o", "json"), List.of("validate", plan),
                    List.of("validate", plan, "-o", "json"), List.of("pause", plan), List.of("resume", plan),
                    List.of("cutover", plan, "--dry-run", "-o", "json"), List.of("cutover", plan, "--dry-run"),
                    List.of("wait", plan, "--for", "lag<5s", "--timeout", "30s", "-o", "json"), List.of("complete", plan, "--dry-run"),
                    List.of("complete", plan, "--dry-run", "-o", "json"))) {
                CliRun run = CliRun.of(args.toArray(new String[0]));
                seen.add(run.out() + run.err());
            }
            String listen = CliRun.of("status", plan, "-o", "json").json().at("/worker/listen").asText();
            assertThat(listen).isNotBlank();
            for (String path : List.of("/metrics", "/api/status", "/", "/api/cutover")) {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://" + listen + path)).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                seen.add(response.body() + response.headers().map());
            }
        } finally {
            worker.destroy();
            worker.waitFor();
        }
        seen.add(Files.readString(log));
        for (List<String> args : List.of(List.of("status", plan, "-o", "json"), List.of("complete", plan, "--yes", "-o", "json"))) {
            CliRun run = CliRun.of(args.toArray(new String[0]));
            seen.add(run.out() + run.err());
        }
        assertThat(seen).hasSizeGreaterThan(15);
        return seen;
    }
}
