package io.migrator.core.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.ExitCode;
import io.migrator.core.error.MigratorException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlanLoaderTest {
    private static final String VALID = """
            name: orders
            source:
              engine: mariadb
              host: 127.0.0.1
              port: 13306
              user: migrator
              password: ${env:SOURCE_PASSWORD}
              database: shop
            target:
              engine: mariadb
              host: 127.0.0.1
              port: 13307
              user: migrator
              password: ${env:TARGET_PASSWORD}
              database: shop
            tables:
              include: ["*"]
            """;

    private final Map<String, String> env = Map.of("SOURCE_PASSWORD", "s3cret-source", "TARGET_PASSWORD", "s3cret-target");

    private Plan parse(String yaml) {
        return new PlanLoader(env).parse("plan.yaml", yaml, Path.of("."));
    }

    private List<PlanProblem> problems(String yaml) {
        try {
            parse(yaml);
        } catch (InvalidPlanException e) {
            assertThat(e.exitCode()).isEqualTo(ExitCode.INVALID_PLAN);
            return e.problems();
        }
        throw new AssertionError("the plan was accepted");
    }

    @Test
    void readsTheMinimalPlanOfTheCliContract() {
        Plan plan = parse(VALID);
        assertThat(plan.name()).isEqualTo("orders");
        assertThat(plan.source().engine()).isEqualTo(Engine.MARIADB);
        assertThat(plan.source().port()).isEqualTo(13306);
        assertThat(plan.source().password().reveal()).isEqualTo("s3cret-source");
        assertThat(plan.target().database()).isEqualTo("shop");
        assertThat(plan.tables().includes("shop", "orders")).isTrue();
        assertThat(plan.snapshot().parallelism()).isEqualTo(4);
        assertThat(plan.cutover().maxDowntime()).isEqualTo(Duration.ofSeconds(5));
        assertThat(plan.control().listen()).isEqualTo("127.0.0.1:9464");
    }

    @Test
    void aMissingRequiredKeyWithoutAMisspellingIsReportedAtItsSection() {
        List<PlanProblem> problems = problems(VALID.replace("  host: 127.0.0.1\n  port: 13306\n", "  port: 13306\n"));
        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.message()).isEqualTo("missing 'host' in source");
            assertThat(p.line() + ":" + p.column()).isEqualTo("2:1");
        });
    }

    @Test
    void passwordsNeverShowInStringForms() {
        Plan plan = parse(VALID);
        assertThat(plan.toString()).doesNotContain("s3cret");
        assertThat(plan.source().toString()).doesNotContain("s3cret");
        assertThat(plan.source().password().toString()).isEqualTo("******");
    }

    @Test
    void everyMistakeIsAProblemWithLineAndColumn() {
        String yaml = """
                name: Orders Migration
                source:
                  engine: mariadb
                  hots: 127.0.0.1
                  port: 13306
                  user: migrator
                  database: shop
                target:
                  engine: postgress
                  host: 127.0.0.1
                  port: 99999
                  user: migrator
                  database: shop
                cutover:
                  maxDowntime: soon
                """;
        List<PlanProblem> problems = problems(yaml);
        assertThat(problems).extracting(p -> p.line() + ":" + p.column()).containsExactly(
                "1:7", "4:3", "9:11", "11:9", "15:16");
        assertThat(problems.get(0).message()).contains("name 'Orders Migration'");
        assertThat(problems.get(0).remedy()).contains("orders-migration");
        assertThat(problems.get(1).message()).contains("unknown key 'hots'").contains("did you mean 'host'");
        assertThat(problems.get(2).message()).contains("'postgress'").contains("did you mean 'postgresql'");
        assertThat(problems.get(3).message()).contains("99999 is outside 1..65535");
        assertThat(problems.get(4).message()).contains("'soon' is not a duration");
        assertThat(problems).allSatisfy(p -> assertThat(p.remedy()).isNotBlank());
    }

    @Test
    void aReferenceInAFieldThatIsNotASecretIsShownAsWrittenNeverResolved() {
        String yaml = """
                name: ${env:SOURCE_PASSWORD}
                source: {engine: "${env:SOURCE_PASSWORD}", host: "${env:TARGET_PASSWORD} x", port: "${env:SOURCE_PASSWORD}", user: u,
                         password: "${env:SOURCE_PASSWORD}", database: shop}
                target: {engine: mariadb, host: h, port: 2, user: u, password: p, database: shop}
                tables: {include: ["${env:TARGET_PASSWORD}["]}
                cutover: {maxDowntime: "${env:TARGET_PASSWORD}"}
                control: {listen: "${env:SOURCE_PASSWORD}"}
                """;
        List<PlanProblem> problems = problems(yaml);
        assertThat(problems).hasSizeGreaterThanOrEqualTo(6);
        assertThat(problems).allSatisfy(p -> {
            assertThat(p.message() + p.remedy()).doesNotContain("s3cret-source").doesNotContain("s3cret-target");
        });
        assertThat(problems).anySatisfy(p -> assertThat(p.message()).contains("source.port '${env:SOURCE_PASSWORD}'"));
    }

    @Test
    void referencesInCutoverRollbackAndKeyFieldsAreShownAsWrittenToo() {
        String sql = """
                name: orders
                source: {engine: mariadb, host: h, port: 1, user: u, password: p, database: shop}
                target: {engine: mariadb, host: h, port: 2, user: u, password: p, database: shop}
                tables: {keys: {orders: ["${env:SOURCE_PASSWORD}", "${env:SOURCE_PASSWORD}"]}}
                cutover:
                  freeze: "${env:SOURCE_PASSWORD}"
                  applicationUsers: ["${env:TARGET_PASSWORD} x"]
                  switch: [{http: {url: "https://deploy.example/flip", method: "${env:TARGET_PASSWORD}"}}]
                """;
        String redis = """
                name: cache
                source: {engine: redis, host: 127.0.0.1, port: 16379}
                target: {engine: redis, host: 127.0.0.1, port: 16380}
                rollback: {cache: "${env:SOURCE_PASSWORD}"}
                """;
        List<PlanProblem> problems = new java.util.ArrayList<>(problems(sql));
        problems.addAll(problems(redis));
        assertThat(problems).hasSizeGreaterThanOrEqualTo(5);
        assertThat(problems).allSatisfy(p -> assertThat(p.message() + p.remedy()).doesNotContain("s3cret-source").doesNotContain("s3cret-target"));
        assertThat(problems).anySatisfy(p -> assertThat(p.message()).contains("rollback.cache '${env:SOURCE_PASSWORD}'"));
        assertThat(problems).anySatisfy(p -> assertThat(p.message()).contains("cutover.freeze '${env:SOURCE_PASSWORD}'"));
    }

    @Test
    void aRedisPlanWithTablesAndAUrlShapedHostAreRefused() {
        List<PlanProblem> redis = problems("""
                name: cache
                source: {engine: redis, host: 127.0.0.1, port: 16379}
                target: {engine: redis, host: 127.0.0.1, port: 16380}
                tables: {include: ["orders"]}
                """);
        assertThat(redis).singleElement().satisfies(p -> {
            assertThat(p.message()).contains("'tables' applies to SQL sources only").contains("every key");
            assertThat(p.remedy()).contains("keys:");
            assertThat(p.line()).isEqualTo(4);
        });
        List<PlanProblem> url = problems("""
                name: pg
                source: {engine: postgresql, host: "postgres://app:s3cret-source@db.example:5432/shop", user: u, database: shop}
                target: {engine: postgresql, host: 127.0.0.1, user: u, database: shop}
                """);
        assertThat(url).singleElement().satisfies(p -> {
            assertThat(p.message()).contains("source.host is a URL").doesNotContain("s3cret-source");
            assertThat(p.remedy()).contains("port, user, password, database");
        });
    }

    @Test
    void aBinaryANonUtf8AHugeAndATabIndentedPlanEachSayWhatIsWrong(@TempDir Path dir) throws Exception {
        Path binary = Files.write(dir.resolve("binary.yaml"), new byte[] {'n', 'a', 0, 1, 2});
        assertThatThrownBy(() -> new PlanLoader(env).load(binary)).isInstanceOfSatisfying(MigratorException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.PLAN_INVALID);
            assertThat(e.getMessage()).contains("not text").contains("offset 2");
        });
        Path latin1 = Files.write(dir.resolve("latin1.yaml"), "name: caf\u00e9\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> new PlanLoader(env).load(latin1)).isInstanceOfSatisfying(MigratorException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.PLAN_INVALID);
            assertThat(e.getMessage()).contains("not UTF-8").contains("0xE9").contains("line 1").doesNotContain("Input length");
        });
        Path huge = Files.write(dir.resolve("huge.yaml"), new byte[10 * 1024 * 1024]);
        assertThatThrownBy(() -> new PlanLoader(env).load(huge)).isInstanceOfSatisfying(MigratorException.class, e -> {
            assertThat(e.getMessage()).contains("10485760 bytes");
            assertThat(e.remedy()).doesNotContain("indent");
        });
        List<PlanProblem> tabs = problems("name: t\nsource:\n\tengine: mariadb\n");
        assertThat(tabs).singleElement().satisfies(p -> {
            assertThat(p.message()).contains("a tab in the indentation of line 3");
            assertThat(p.line()).isEqualTo(3);
            assertThat(p.column()).isEqualTo(1);
        });
    }

    @Test
    void missingEnvironmentVariableIsAProblemAtItsLine() {
        try {
            new PlanLoader(Map.of("TARGET_PASSWORD", "tt")).parse("plan.yaml", VALID, Path.of("."));
            throw new AssertionError("accepted");
        } catch (InvalidPlanException e) {
            assertThat(e.problems()).singleElement().satisfies(p -> {
                assertThat(p.line()).isEqualTo(7);
                assertThat(p.message()).contains("environment variable SOURCE_PASSWORD is not set");
                assertThat(p.remedy()).contains("export SOURCE_PASSWORD");
                assertThat(p.render()).doesNotContain("tt");
            });
        }
    }

    @Test
    void fileSecretsAreReadRelativeToThePlan(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("source.pw"), "from-file\n");
        Files.writeString(dir.resolve("plan.yaml"), VALID.replace("${env:SOURCE_PASSWORD}", "${file:source.pw}"));
        Plan plan = new PlanLoader(env).load(dir.resolve("plan.yaml"));
        assertThat(plan.source().password().reveal()).isEqualTo("from-file");
    }

    @Test
    void unreadableSecretFileIsNamed(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("plan.yaml"), VALID.replace("${env:SOURCE_PASSWORD}", "${file:missing.pw}"));
        assertThatThrownBy(() -> new PlanLoader(env).load(dir.resolve("plan.yaml")))
                .isInstanceOfSatisfying(InvalidPlanException.class, e -> assertThat(e.problems().get(0).message())
                        .contains("missing.pw").contains("cannot be read"));
    }

    @Test
    void literalDollarBraceIsEscaped() {
        Plan plan = parse(VALID.replace("${env:SOURCE_PASSWORD}", "'a$${b}'"));
        assertThat(plan.source().password().reveal()).isEqualTo("a${b}");
    }

    @Test
    void sourceEqualToTargetIsRefused() {
        List<PlanProblem> problems = problems(VALID.replace("13307", "13306").replace("host: 127.0.0.1\n  port: 13306\n  user: migrator\n  password: ${env:TARGET",
                "host: localhost\n  port: 13306\n  user: migrator\n  password: ${env:TARGET"));
        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.message()).contains("source and target are the same server");
            assertThat(p.line()).isEqualTo(9);
        });
    }

    @Test
    void badGlobIsNamed() {
        List<PlanProblem> problems = problems(VALID.replace("include: [\"*\"]", "include: [\"ord[ers\"]\n  exclude: [tmp_*]"));
        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.message()).contains("'ord[ers'").contains("never closed");
            assertThat(p.line()).isEqualTo(17);
        });
    }

    @Test
    void globsSelectTables() {
        Plan plan = parse(VALID.replace("include: [\"*\"]", "include: [\"order*\", \"shop.cust?mers\"]\n  exclude: [\"*_tmp\"]"));
        assertThat(plan.tables().includes("shop", "orders")).isTrue();
        assertThat(plan.tables().includes("shop", "orders_tmp")).isFalse();
        assertThat(plan.tables().includes("shop", "customers")).isTrue();
        assertThat(plan.tables().includes("other", "customers")).isFalse();
        assertThat(plan.tables().includes("shop", "items")).isFalse();
    }

    @Test
    void enginesOfDifferentFamiliesAreRefused() {
        List<PlanProblem> problems = problems(VALID.replace("  engine: mariadb\n  host: 127.0.0.1\n  port: 13307", "  engine: postgresql\n  host: 127.0.0.1\n  port: 13307"));
        assertThat(problems).singleElement().satisfies(p -> assertThat(p.message()).contains("cannot receive from source engine mariadb"));
    }

    @Test
    void duplicateKeysAndYamlSyntaxErrorsHavePositions() {
        assertThat(problems(VALID + "name: again\n")).singleElement()
                .satisfies(p -> assertThat(p.render()).startsWith("plan.yaml:18:1: key 'name' appears twice"));
        assertThat(problems("name: x\nsource: [unclosed\n")).singleElement()
                .satisfies(p -> {
                    assertThat(p.message()).startsWith("not valid YAML");
                    assertThat(p.line()).isGreaterThan(1);
                });
    }

    @Test
    void redisEndpointsTakeDatabasesAndCluster() {
        String yaml = """
                name: cache
                source: {engine: redis, host: 127.0.0.1, port: 16379, password: x, databases: [0, 1]}
                target: {engine: redis, host: 127.0.0.1, port: 16380, database: shop}
                """;
        List<PlanProblem> problems = problems(yaml);
        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.message()).contains("'database' does not apply to redis");
            assertThat(p.remedy()).contains("databases: [0]");
        });
        Plan plan = parse(yaml.replace(", database: shop", ", cluster: true").replace("[0, 1]", "[0]"));
        assertThat(plan.target().cluster()).isTrue();
        assertThat(plan.source().databases()).containsExactly(0);
        assertThat(problems(yaml.replace(", database: shop", ", cluster: true"))).singleElement()
                .satisfies(p -> assertThat(p.message()).contains("a Redis Cluster has only database 0"));
    }

    @Test
    void defaultPortComesFromTheEngine() {
        Plan plan = parse(VALID.replace("  port: 13306\n", "").replace("  port: 13307\n", "").replace("host: 127.0.0.1\n  user: migrator\n  password: ${env:TARGET", "host: 10.0.0.2\n  user: migrator\n  password: ${env:TARGET"));
        assertThat(plan.source().port()).isEqualTo(3306);
    }

    @Test
    void aControlEndpointBeyondLoopbackNeedsAToken() {
        List<PlanProblem> problems = problems(VALID + "control:\n  listen: 0.0.0.0:9464\n");
        assertThat(problems).hasSize(1);
        assertThat(problems.get(0).message()).contains("0.0.0.0:9464").contains("reachable from other hosts");
        assertThat(problems.get(0).remedy()).contains("control.token");

        Plan withToken = parse(VALID + "control:\n  listen: 0.0.0.0:9464\n  token: ${env:SOURCE_PASSWORD}\n");
        assertThat(withToken.control().token().reveal()).isEqualTo("s3cret-source");
        assertThat(withToken.control().toString()).doesNotContain("s3cret");
        assertThat(withToken.control().loopback()).isFalse();

        Plan local = parse(VALID);
        assertThat(local.control().listen()).isEqualTo("127.0.0.1:9464");
        assertThat(local.control().loopback()).isTrue();
        assertThat(local.control().token().isEmpty()).isTrue();
        assertThat(Plan.Control.parse("[::1]:0").loopback()).isTrue();
        assertThatThrownBy(() -> Plan.Control.parse("localhost")).hasMessageContaining("host:port");
    }
}
