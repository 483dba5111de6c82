package io.migrator.core.plan;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plan's {@code tls} key: its two forms, its defaults per engine, and every way it can be wrong. */
class TlsPlanTest {
    @TempDir
    Path dir;

    private String plan(String engine, String sourceTls) {
        String tls = sourceTls == null ? "" : "  tls: " + sourceTls.replace("\n", "\n  ") + "\n";
        String db = engine.equals("redis") ? "" : "  user: migrator\n  database: shop\n";
        return "name: tls\nsource:\n  engine: " + engine + "\n  host: db.example.com\n" + db + tls
                + "target:\n  engine: " + engine + "\n  host: 127.0.0.1\n  port: 1234\n" + db;
    }

    private Plan parse(String yaml) {
        return new PlanLoader(Map.of()).parse("plan.yaml", yaml, dir);
    }

    private List<PlanProblem> problems(String yaml) {
        try {
            parse(yaml);
        } catch (InvalidPlanException e) {
            return e.problems();
        }
        throw new AssertionError("the plan was accepted");
    }

    @Test
    void defaultsAreTheDriversOwnAndAModeAloneIsEnough() throws Exception {
        assertThat(parse(plan("postgresql", null)).source().tls().mode()).isEqualTo(Tls.Mode.PREFER);
        assertThat(parse(plan("mysql", null)).source().tls().mode()).isEqualTo(Tls.Mode.PREFER);
        assertThat(parse(plan("mariadb", null)).source().tls().mode()).isEqualTo(Tls.Mode.DISABLE);
        assertThat(parse(plan("redis", null)).source().tls().mode()).isEqualTo(Tls.Mode.DISABLE);
        Tls full = parse(plan("mariadb", "verify-full")).source().tls();
        assertThat(full.mode()).isEqualTo(Tls.Mode.VERIFY_FULL);
        assertThat(full.ca()).isNull();
        assertThat(full.verifiesHost()).isTrue();
        assertThat(parse(plan("mariadb", null)).target().tls().required()).isFalse();
    }

    @Test
    void aSectionReadsFilesRelativeToThePlanAndDefaultsToVerifyFullWithACa() throws Exception {
        Files.writeString(dir.resolve("ca.pem"), "x");
        Files.createDirectories(dir.resolve("certs"));
        Files.writeString(dir.resolve("certs/client.pem"), "x");
        Files.writeString(dir.resolve("certs/client.key"), "x");
        Tls tls = parse(plan("redis", "\n  ca: ca.pem\n  cert: certs/client.pem\n  key: certs/client.key")).source().tls();
        assertThat(tls.mode()).isEqualTo(Tls.Mode.VERIFY_FULL);
        assertThat(tls.ca()).isEqualTo(dir.toAbsolutePath().resolve("ca.pem").toString());
        assertThat(tls.clientCertificate()).isTrue();
        assertThat(parse(plan("mariadb", "{}")).source().tls().mode()).isEqualTo(Tls.Mode.REQUIRE);
        assertThat(parse(plan("mysql", "{mode: require, allowPublicKeyRetrieval: true}")).source().tls().allowPublicKeyRetrieval()).isTrue();
        // the endpoint carries its TLS into the reverse direction (the old source becomes the target)
        Plan p = parse(plan("redis", "\n  ca: ca.pem"));
        assertThat(p.reversed().target().tls()).isEqualTo(p.source().tls());
    }

    @Test
    void everyWrongTlsSettingNamesTheKeyAndTheFix() throws Exception {
        assertThat(problems(plan("postgresql", "verify-everything"))).singleElement().satisfies(p -> {
            assertThat(p.message()).contains("source.tls mode 'verify-everything' is not a TLS mode");
            assertThat(p.remedy()).contains("verify-full");
        });
        assertThat(problems(plan("redis", "prefer"))).singleElement().satisfies(p -> {
            assertThat(p.message()).contains("'prefer' is not possible for redis");
            assertThat(p.remedy()).contains("require or verify-full");
        });
        assertThat(problems(plan("mariadb", "{mode: verify-ca, ca: /no/such/ca.pem}"))).singleElement().satisfies(p -> {
            assertThat(p.message()).contains("source.tls.ca '/no/such/ca.pem' is not a readable file");
            assertThat(p.remedy()).contains("PEM file");
        });
        Files.writeString(dir.resolve("client.pem"), "x");
        Files.writeString(dir.resolve("ca.pem"), "x");
        assertThat(problems(plan("mariadb", "{mode: require, cert: client.pem}"))).singleElement().satisfies(p ->
                assertThat(p.message()).contains("client certificate without its key"));
        assertThat(problems(plan("postgresql", "{mode: require, ca: ca.pem}"))).singleElement().satisfies(p ->
                assertThat(p.remedy()).contains("use verify-full"));
        assertThat(problems(plan("postgresql", "{mode: disable, ca: ca.pem}"))).singleElement().satisfies(p ->
                assertThat(p.message()).contains("its mode is disable"));
        assertThat(problems(plan("mariadb", "{mode: require, allowPublicKeyRetrieval: true}"))).singleElement().satisfies(p ->
                assertThat(p.message()).contains("applies to MySQL only"));
        assertThat(problems(plan("mariadb", "{mode: require, sslmode: verify-full}"))).singleElement().satisfies(p ->
                assertThat(p.message()).contains("unknown key 'sslmode' in source.tls"));
    }
}
