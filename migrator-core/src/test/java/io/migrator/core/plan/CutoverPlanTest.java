package io.migrator.core.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The plan's cutover keys as CLI.md names them: what binds, the defaults per engine, and each problem where it is written. */
class CutoverPlanTest {
    private static final String ENDPOINTS = """
            name: orders
            source: {engine: %1$s, host: 127.0.0.1, port: 13306, user: migrator, password: x, database: shop}
            target: {engine: %1$s, host: 127.0.0.1, port: 13307, user: migrator, password: x, database: shop}
            """;

    private static final String REDIS_ENDPOINTS = """
            name: orders
            source: {engine: redis, host: 127.0.0.1, port: 16379}
            target: {engine: redis, host: 127.0.0.1, port: 16380}
            """;

    private static Plan parse(String engine, String cutover) {
        String endpoints = engine.equals("redis") ? REDIS_ENDPOINTS : ENDPOINTS.formatted(engine);
        return new PlanLoader(Map.of("PW", "pgb-secret")).parse("plan.yaml", endpoints + cutover, Path.of("."));
    }

    private static List<String> problems(String engine, String cutover) {
        try {
            parse(engine, cutover);
        } catch (InvalidPlanException e) {
            return e.problems().stream().map(p -> p.line() + ":" + p.column() + " " + p.message() + " | " + p.remedy()).toList();
        }
        throw new AssertionError("the plan was accepted");
    }

    @Test
    void theCliContractsCutoverSectionBinds() {
        Plan plan = parse("mariadb", """
                cutover:
                  maxDowntime: 2s
                  maxLag: 500ms
                  freeze: lock-tables
                  switch:
                    - haproxy: {admin: 127.0.0.1:13399, backend: mariadb, server: primary}
                    - command: ["./repoint.sh", "orders"]
                    - http: {url: "https://deploy.example/flip?token=abc", method: post}
                  applicationUsers: ["shop_app@%", "shop_batch@10.0.0.%"]
                  validatedWithin: 2h
                """);
        Plan.Cutover cutover = plan.cutover();
        assertThat(cutover.maxDowntime()).isEqualTo(Duration.ofSeconds(2));
        assertThat(cutover.maxLag()).isEqualTo(Duration.ofMillis(500));
        assertThat(cutover.freeze()).isEqualTo("lock-tables");
        assertThat(cutover.switchSteps()).containsExactly(
                new SwitchStep.Haproxy("127.0.0.1:13399", "mariadb", "primary"),
                new SwitchStep.Command(List.of("./repoint.sh", "orders")),
                new SwitchStep.Http("https://deploy.example/flip?token=abc", "POST"));
        assertThat(cutover.applicationUsers()).containsExactly("shop_app@%", "shop_batch@10.0.0.%");
        assertThat(cutover.validatedWithin()).isEqualTo(Duration.ofHours(2));
        assertThat(parse("mariadb", "cutover: {switch: [{haproxy: {admin: 127.0.0.1:13399, backend: b, server: s, config: /etc/haproxy/haproxy.cfg}}]}\n")
                .cutover().switchSteps()).containsExactly(new SwitchStep.Haproxy("127.0.0.1:13399", "b", "s", "/etc/haproxy/haproxy.cfg"));
        assertThat(cutover.switchSteps().get(1).describe()).as("arguments may hold resolved secrets").isEqualTo("command ./repoint.sh (1 argument)");
        assertThat(new SwitchStep.Http("https://ops:s3cret@deploy.example/flip", "POST").describe()).isEqualTo("http POST https://...@deploy.example/flip");
        assertThat(cutover.switchSteps().get(2).describe()).as("a token in the query is never shown")
                .isEqualTo("http POST https://deploy.example/flip?...");
    }

    @Test
    void aPgbouncerStepAndFreezeBindOnAPostgresqlPlanOnly() {
        Plan plan = parse("postgresql", """
                cutover:
                  freeze: pgbouncer
                  applicationUsers: [shop_app]
                  switch:
                    - pgbouncer: {admin: 127.0.0.1:15400, database: shop, user: pgb_admin, password: "${env:PW}", config: /etc/pgbouncer/pgbouncer.ini}
                """);
        SwitchStep.Pgbouncer step = (SwitchStep.Pgbouncer) plan.cutover().switchSteps().get(0);
        assertThat(step.admin()).isEqualTo("127.0.0.1:15400");
        assertThat(step.database()).isEqualTo("shop");
        assertThat(step.user()).isEqualTo("pgb_admin");
        assertThat(step.password().reveal()).as("resolved from the environment").isEqualTo("pgb-secret");
        assertThat(step.config()).isEqualTo("/etc/pgbouncer/pgbouncer.ini");
        assertThat(plan.cutover().applicationUsers()).containsExactly("shop_app");
        assertThat(new SwitchStep.Pgbouncer("127.0.0.1:15400", "shop")).isEqualTo(new SwitchStep.Pgbouncer("127.0.0.1:15400", "shop", null, null, null));
        assertThat(problems("postgresql", "cutover: {freeze: pgbouncer}\n")).singleElement().asString()
                .contains("cutover.freeze: pgbouncer pauses the database of the plan's pgbouncer switch step, and cutover.switch has none");
        assertThat(problems("mariadb", "cutover: {switch: [{pgbouncer: {admin: 127.0.0.1:15400, database: shop}}]}\n")).singleElement().asString()
                .contains("a cutover.switch pgbouncer step repoints a PostgreSQL database; this plan's source is mariadb");
    }

    @Test
    void withoutACutoverSectionEachEngineGetsItsDefaultFreeze() {
        assertThat(parse("mariadb", "").cutover().freeze()).isEqualTo("lock-tables");
        assertThat(parse("postgresql", "").cutover().freeze()).isEqualTo("revoke");
        assertThat(parse("redis", "").cutover().freeze()).isEqualTo("client-pause");
        assertThat(parse("mariadb", "").cutover().maxLag()).isEqualTo(Duration.ofSeconds(1));
        assertThat(parse("mariadb", "").cutover().maxDowntime()).as("a few seconds, not 30").isEqualTo(Duration.ofSeconds(5));
        assertThat(parse("mariadb", "").cutover().validatedWithin()).isEqualTo(Duration.ofHours(24));
        assertThat(parse("mariadb", "").cutover().applicationUsers()).isEmpty();
        assertThat(parse("mariadb", "").cutover().switchSteps()).isEmpty();
        Plan command = parse("postgresql", """
                cutover:
                  freeze: command
                  freezeCommand: [./freeze.sh]
                  unfreezeCommand: [./unfreeze.sh, now]
                """);
        assertThat(command.cutover().unfreezeCommand()).containsExactly("./unfreeze.sh", "now");
    }

    @Test
    void aRedisRollbackPolicyMeansNoReverseStreamAndIsRefusedElsewhere() {
        Plan flush = parse("redis", "cutover: {applicationUsers: [app]}\nrollback: {cache: flush}\n");
        assertThat(flush.cutover().rollbackCache()).isEqualTo("flush");
        assertThat(flush.cutover().reverse()).as("a target that cannot be read back: no reverse replication").isFalse();
        assertThat(flush.reversed().cutover().rollbackCache()).as("the rollback runbook reads it").isEqualTo("flush");
        assertThat(parse("redis", "rollback: {cache: keep}\n").cutover().rollbackCache()).isEqualTo("keep");
        assertThat(parse("redis", "").cutover().rollbackCache()).isEmpty();
        assertThat(problems("redis", "rollback: {cache: flsh}\n")).singleElement().asString()
                .contains("rollback.cache 'flsh' is not a cache policy").contains("did you mean 'flush'");
        assertThat(problems("redis", "rollback: {cache: keep, other: 1}\n")).singleElement().asString().contains("unknown key 'other'");
        assertThat(problems("redis", "cutover: {applicationUsers: [app], reverse: true}\nrollback: {cache: flush}\n")).singleElement()
                .asString().contains("rollback.cache says the target cannot be read back").contains("choose one");
        assertThat(problems("mariadb", "rollback: {cache: flush}\n")).singleElement().asString()
                .contains("rollback.cache applies to Redis plans");
        assertThatThrownBy(() -> new PlanLoader(Map.of()).parse("plan.yaml", REDIS_ENDPOINTS.replace("port: 16380}",
                "port: 17001, cluster: true}") + "rollback: {cache: flush}\n", Path.of(".")))
                .isInstanceOfSatisfying(InvalidPlanException.class, e -> assertThat(e.problems()).singleElement().asString()
                        .contains("rollback.cache with a Redis Cluster target is not in this build"));
    }

    @Test
    void reverseReplicationIsOnForSqlPlansAndForRedisPlansWithALastingFreeze() {
        assertThat(parse("mariadb", "").cutover().reverse()).isTrue();
        assertThat(parse("mariadb", "cutover: {reverse: false}\n").cutover().reverse()).isFalse();
        assertThat(parse("postgresql", "").cutover().reverse()).isTrue();
        assertThat(parse("postgresql", "cutover: {reverse: false}\n").cutover().reverse()).isFalse();
        assertThat(parse("redis", "").cutover().reverse()).as("no application users: no lasting freeze to stream back under").isFalse();
        assertThat(parse("redis", "cutover: {applicationUsers: [app]}\n").cutover().reverse()).isTrue();
        assertThat(parse("redis", "cutover: {applicationUsers: [app], reverse: false}\n").cutover().reverse()).isFalse();
        assertThat(problems("redis", "cutover: {reverse: true}\n")).singleElement().asString()
                .contains("reverse replication after a Redis cutover needs cutover.applicationUsers").contains("name the application's ACL users");
        Plan toCluster = new PlanLoader(Map.of()).parse("plan.yaml", REDIS_ENDPOINTS.replace("port: 16380}", "port: 17001, cluster: true}")
                + "cutover: {applicationUsers: [app]}\n", Path.of("."));
        assertThat(toCluster.cutover().reverse()).as("a cluster target has no one stream to read back").isFalse();
        assertThat(parse("redis", "cutover: {applicationUsers: [app], reverse: true}\n").cutover().reverse()).isTrue();
        assertThatThrownBy(() -> new PlanLoader(Map.of()).parse("plan.yaml", REDIS_ENDPOINTS.replace("port: 16380}",
                "port: 17001, cluster: true}") + "cutover: {applicationUsers: [app], reverse: true}\n", Path.of(".")))
                .isInstanceOfSatisfying(InvalidPlanException.class, e -> assertThat(e.problems()).singleElement().asString()
                        .contains("reverse replication from a Redis Cluster target is not in this build"));
        assertThat(parse("postgresql", "").reversed().reversed("orders").name()).as("a reverse direction's reverse is the forward one")
                .isEqualTo("orders");
        Plan reversed = parse("mariadb", "cutover: {applicationUsers: [app@%]}\n").reversed();
        assertThat(reversed.name()).isEqualTo("orders-reverse");
        assertThat(reversed.source().port()).as("the target is the reverse direction's source").isEqualTo(13307);
        assertThat(reversed.cutover().applicationUsers()).containsExactly("app@%");
        Plan redis = new PlanLoader(Map.of()).parse("plan.yaml", REDIS_ENDPOINTS.replace("port: 16379}", "port: 16379, databases: [3, 5]}")
                + "cutover: {applicationUsers: [app]}\n", Path.of("."));
        assertThat(redis.reversed().source().databases()).as("the new server holds the databases the forward direction read")
                .containsExactly(3, 5);
        assertThat(redis.reversed().reversed("orders").source().databases()).containsExactly(3, 5);
        assertThat(Plan.reverseName("x".repeat(63))).hasSize(63).endsWith("-reverse").isNotEqualTo(Plan.reverseName("x".repeat(62) + "y"));
    }

    @Test
    void everyProblemIsNamedWhereItIsWrittenWithItsRemedy() {
        assertThat(problems("mariadb", """
                cutover:
                  maxLag: 0s
                  freeze: lock-table
                  switch:
                    - haproxy: {admin: localhost, backend: mariadb}
                    - haproxie: {admin: 127.0.0.1:13399}
                    - http: {url: "ftp://deploy.example/flip"}
                    - command: []
                    - just a string
                """)).containsExactly(
                "5:11 cutover.maxLag must be longer than zero | the cutover starts only when the stream is this close to the source, e.g. 1s",
                "6:11 cutover.freeze 'lock-table' is not a way to freeze a mariadb source — did you mean 'lock-tables'? | use one of: "
                        + "lock-tables, read-only, command",
                "8:7 missing 'server' in cutover.switch haproxy | add 'server: ...' to cutover.switch haproxy (docs/plan.md)",
                "8:24 cutover.switch haproxy admin 'localhost' is not host:port | write where its runtime API listens, e.g. 127.0.0.1:13399",
                "9:7 unknown key 'haproxie' in a cutover.switch step — did you mean 'haproxy'? | allowed here: haproxy, pgbouncer, "
                        + "command, http (docs/plan.md)",
                "10:19 cutover.switch http url must start with http:// or https:// | write the full address, e.g. https://deploy.example/flip",
                "11:7 a cutover.switch command needs the program to run | write e.g. '- command: [\"./repoint.sh\", \"orders\"]'",
                "12:7 each cutover.switch step is one of haproxy, pgbouncer, command or http | write e.g. '- haproxy: {admin: "
                        + "127.0.0.1:13399, backend: mariadb, server: primary}' (docs/plan.md)");
        assertThat(problems("postgresql", "cutover: {freeze: lock-tables}\n")).singleElement().asString()
                .contains("'lock-tables' is not a way to freeze a postgresql source").contains("use one of: revoke, pgbouncer, command");
        assertThat(problems("redis", "cutover: {freeze: command}\n")).singleElement().asString()
                .contains("needs cutover.freezeCommand and cutover.unfreezeCommand");
        assertThat(problems("mariadb", "cutover: {applicationUsers: [\"app'; DROP USER root; --\"], validatedWithin: 0s}\n"))
                .anySatisfy(p -> assertThat(p).contains("applicationUsers entry 'app'; DROP USER root; --' is not a login name (user@host)"))
                .anySatisfy(p -> assertThat(p).contains("cutover.validatedWithin must be longer than zero"));
        assertThat(problems("mariadb", "cutover: {freezeCommand: [x]}\n")).singleElement().asString()
                .contains("apply only to freeze: command (this plan freezes with lock-tables)");
    }
}
