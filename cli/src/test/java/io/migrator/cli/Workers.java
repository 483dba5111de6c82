package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The workers a kill test starts ({@code java -Xmx512m -jar migrator.jar run PLAN}), each logging to
 * target/NAME-worker-N.log, and the waits on them through the CLI as a runbook pipeline would.
 */
final class Workers implements AutoCloseable {
    final List<Process> started = new ArrayList<>();
    private final String name;

    Workers(String name) {
        this.name = name;
    }

    Process start(String plan) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-jar", KillLoop.JAR.toString(), "run", plan, "--listen", "127.0.0.1:0").redirectErrorStream(true)
                .redirectOutput(new File("target/" + name + "-worker-" + started.size() + ".log"));
        builder.environment().put("MIGRATOR_STATE_DIR", System.getProperty("migrator.stateDir"));
        Process worker = builder.start();
        started.add(worker);
        return worker;
    }

    Process get(int round) {
        return started.get(round);
    }

    /** The phase the target's journal holds (the worker may be gone). */
    static String durablePhase(String plan) {
        CliRun status = CliRun.of("status", plan, "-o", "json");
        return status.exit() == 0 ? status.json().get("phase").asText() : "?";
    }

    /** Until the last worker runs and reports {@code phase}; fails when it died. */
    void awaitPhase(String plan, String phase) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < deadline) {
            Process last = started.get(started.size() - 1);
            assertThat(last.isAlive()).as("the worker died; see target/%s-worker-%d.log", name, started.size() - 1).isTrue();
            CliRun status = CliRun.of("status", plan, "-o", "json");
            if (status.exit() == 0 && status.json().at("/worker/running").asBoolean() && phase.equals(status.json().get("phase").asText())) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("not " + phase + " within 120 s: " + CliRun.of("status", plan).out());
    }

    /** Until the last worker runs and its status has {@code field} equal to {@code value} (direction reverse, say). */
    void awaitStatus(String plan, String field, String value) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < deadline) {
            Process last = started.get(started.size() - 1);
            assertThat(last.isAlive()).as("the worker died; see target/%s-worker-%d.log", name, started.size() - 1).isTrue();
            CliRun status = CliRun.of("status", plan, "-o", "json");
            if (status.exit() == 0 && status.json().at("/worker/running").asBoolean() && value.equals(status.json().path(field).asText())) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError(field + " not " + value + " within 120 s: " + CliRun.of("status", plan).out());
    }

    @Override
    public void close() throws InterruptedException {
        for (Process w : started) {
            w.destroyForcibly().waitFor();
        }
    }
}
