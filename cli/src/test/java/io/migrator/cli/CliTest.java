package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command contract of shared/design/CLI.md, without servers. */
class CliTest {
    private static final String FIVE_MISTAKES = Path.of("src/test/resources/five-mistakes.yaml").toString();

    @Test
    void versionAndHelpExitZeroAndHelpListsExitCodesAndExamples() {
        assertThat(CliRun.of("--version").out()).startsWith("migrator ");
        for (String[] command : List.of(new String[] {"--help"}, new String[] {"sandbox", "up", "--help"},
                new String[] {"plan", "check", "--help"}, new String[] {"run", "--help"}, new String[] {"wait", "--help"},
                new String[] {"validate", "--help"}, new String[] {"cutover", "--help"}, new String[] {"status", "--help"})) {
            CliRun run = CliRun.of(command);
            assertThat(run.exit()).as(String.join(" ", command)).isZero();
            assertThat(run.out()).contains("Exit codes:").contains("  3   the plan file is invalid").contains("Examples:");
        }
    }

    @Test
    void badOptionValuesAndUnknownOptionsAreUsageErrorsInJsonToo() {
        CliRun timeout = CliRun.of("plan", "check", FIVE_MISTAKES, "--connect-timeout", "5");
        assertThat(timeout.exit()).as(timeout.err()).isEqualTo(2);
        assertThat(timeout.err()).contains("--connect-timeout '5' is not a duration").contains("remedy: run `migrator plan check --help`")
                .doesNotContain("INTERNAL").doesNotContain("report it");
        CliRun interval = CliRun.of("status", FIVE_MISTAKES, "--interval", "abc", "-o", "json");
        assertThat(interval.exit()).isEqualTo(2);
        JsonNode error = interval.json().get("error");
        assertThat(error.get("code").asText()).isEqualTo("USAGE");
        assertThat(error.get("message").asText()).contains("--interval 'abc' is not a duration");
        CliRun unknown = CliRun.of("status", FIVE_MISTAKES, "--frobnicate", "-o", "json");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.json().get("ok").asBoolean()).isFalse();
        assertThat(unknown.json().get("error").get("message").asText()).contains("--frobnicate");
    }

    @Test
    void fiveMistakesGiveFiveProblemsWithLineColumnAndExit3() {
        CliRun text = CliRun.of("plan", "check", FIVE_MISTAKES);
        assertThat(text.exit()).isEqualTo(3);
        assertThat(text.out()).contains(FIVE_MISTAKES + ":1:7: name 'Orders Migration'")
                .contains(":4:3: unknown key 'hots' in source — did you mean 'host'?")
                .contains(":7:13: source.password: environment variable MIGRATOR_TEST_UNSET_PASSWORD is not set")
                .contains(":10:11: target.engine 'postgress'")
                .contains(":12:9: target.port 99999 is outside 1..65535")
                .contains("5 problems in plan");

        CliRun json = CliRun.of("plan", "check", FIVE_MISTAKES, "-o", "json");
        assertThat(json.exit()).isEqualTo(3);
        JsonNode doc = json.json();
        assertThat(doc.get("ok").asBoolean()).isFalse();
        assertThat(doc.at("/error/code").asText()).isEqualTo("PLAN_INVALID");
        assertThat(doc.at("/error/remedy").asText()).isNotBlank();
        List<String> positions = new ArrayList<>();
        doc.get("problems").forEach(p -> positions.add(p.get("line").asInt() + ":" + p.get("column").asInt()));
        assertThat(positions).containsExactly("1:7", "4:3", "7:13", "10:11", "12:9");
        doc.get("problems").forEach(p -> assertThat(p.get("remedy").asText()).isNotBlank());
    }

    @Test
    void aValidPlanPassesStaticChecksAndNoPasswordIsEverPrinted(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("pw"), "Very-Secret-9\n");
        Path plan = dir.resolve("plan.yaml");
        Files.writeString(plan, Files.readString(Path.of("../plans/mariadb-to-mariadb.yaml"))
                .replace("${file:../.sandbox/secrets/mariadb.password}", "${file:pw}"));
        CliRun text = CliRun.of("plan", "check", plan.toString(), "--static");
        assertThat(text.exit()).isZero();
        assertThat(text.out()).contains("is a valid plan");
        CliRun json = CliRun.of("plan", "check", plan.toString(), "--static", "-o", "json", "-vv");
        assertThat(json.json().get("ok").asBoolean()).isTrue();
        for (CliRun run : List.of(text, json)) {
            assertThat(run.out() + run.err()).doesNotContain("Very-Secret-9");
        }
    }

    @Test
    void exitCodesOfTheContract(@TempDir Path dir) throws Exception {
        Path redisPlan = dir.resolve("redis.yaml");
        Files.writeString(redisPlan, "name: cache\nsource: {engine: redis, host: 127.0.0.1, port: 1}\n"
                + "target: {engine: redis, host: 127.0.0.1, port: 2}\nnetwork: {maxOutage: 1s}\n"); // waited for 1 s, then the error
        assertThat(CliRun.of("no-such-command").exit()).isEqualTo(2);
        assertThat(CliRun.of("plan", "check", "--no-such-option", "x.yaml").exit()).isEqualTo(2);
        assertThat(CliRun.of("plan", "check", "does/not/exist.yaml").exit()).isEqualTo(3);
        CliRun unreachable = CliRun.of("run", redisPlan.toString(), "-o", "json");
        assertThat(unreachable.exit()).isEqualTo(6);
        JsonNode error = unreachable.json();
        assertThat(error.get("ok").asBoolean()).isFalse();
        assertThat(error.at("/error/code").asText()).isEqualTo("CANNOT_CONNECT");
        assertThat(error.at("/error/message").asText()).contains("cannot reach source redis at 127.0.0.1:1");
        assertThat(error.at("/error/remedy").asText()).isNotBlank();
        CliRun textError = CliRun.of("demo");
        assertThat(textError.exit()).isEqualTo(1);
        assertThat(textError.err()).startsWith("error: `migrator demo` is not available").contains("remedy:");
        assertThat(textError.err()).doesNotContain("Exception").doesNotContain("\tat ");
    }
}
