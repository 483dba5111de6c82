package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** `migrator sequences` on demand: the target's sequences come up to the source's values, never down, and a second call moves none. */
@ExtendWith(SandboxExtension.class)
class SequencesCommandIT {
    private final String db = "sq_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);

    @Test
    void bringsTheTargetsSequencesUpToTheSourceOnDemand(SandboxServers servers, @TempDir Path dir) throws Exception {
        SandboxEndpoint source = servers.postgresSource();
        SandboxEndpoint target = servers.postgresTarget();
        String ddl = "CREATE SEQUENCE shared START 1000; CREATE TABLE t (id serial PRIMARY KEY, v text); "
                + "CREATE TABLE u (id bigint PRIMARY KEY DEFAULT nextval('shared'))";
        try {
            for (SandboxEndpoint e : List.of(source, target)) {
                exec(e, "postgres", "CREATE DATABASE " + db);
                exec(e, db, ddl);
            }
            exec(source, db, "INSERT INTO t (v) SELECT 'x' FROM generate_series(1, 50); INSERT INTO u DEFAULT VALUES; "
                    + "INSERT INTO u DEFAULT VALUES; INSERT INTO u DEFAULT VALUES");
            Path password = dir.resolve("pw");
            Files.writeString(password, source.password());
            Path plan = dir.resolve("plan.yaml");
            Files.writeString(plan, """
                    name: %s
                    source: {engine: postgresql, host: %s, port: %d, user: %s, password: "${file:%s}", database: %s}
                    target: {engine: postgresql, host: %s, port: %d, user: %s, password: "${file:%s}", database: %s}
                    """.formatted(db, source.host(), source.port(), source.user(), password, db, target.host(), target.port(),
                    target.user(), password, db));

            CliRun first = CliRun.of("sequences", plan.toString(), "-o", "json");

            assertThat(first.exit()).as(first.out() + first.err()).isZero();
            List<String> moved = new ArrayList<>();
            first.json().get("moved").forEach((JsonNode m) -> moved.add(m.asText()));
            assertThat(moved).hasSize(2).anySatisfy(m -> assertThat(m).contains("t_id_seq").endsWith(" -> 50"))
                    .anySatisfy(m -> assertThat(m).contains("shared").endsWith(" -> 1002"));
            assertThat(next(target, "t_id_seq")).isEqualTo(51);
            assertThat(next(target, "shared")).isEqualTo(1003);

            CliRun again = CliRun.of("sequences", plan.toString(), "-o", "json");
            assertThat(again.exit()).isZero();
            assertThat(again.json().get("moved")).as("at or beyond the source: nothing moves, nothing goes down").isEmpty();
        } finally {
            for (SandboxEndpoint e : List.of(source, target)) {
                exec(e, "postgres", "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
        }
    }

    private static void exec(SandboxEndpoint e, String database, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(e.jdbcUrl(database), e.user(), e.password()); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private long next(SandboxEndpoint e, String sequence) throws Exception {
        try (Connection c = DriverManager.getConnection(e.jdbcUrl(db), e.user(), e.password()); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT nextval('" + sequence + "')")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
