package io.migrator.sandbox;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Runs the server tools: short commands with a deadline, and long-lived servers detached from us. */
final class Processes {
    private Processes() {
    }

    record Result(int exitCode, String output) {
        boolean ok() {
            return exitCode == 0;
        }
    }

    /** Runs a command to completion; output is stdout and stderr together. */
    static Result run(List<String> command, Map<String, String> env, String stdin, Duration timeout) {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(env);
        try {
            File out = File.createTempFile("migrator-sandbox", ".out");
            try {
                builder.redirectOutput(out);
                if (stdin == null) {
                    builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
                }
                Process process = builder.start();
                if (stdin != null) {
                    try (var in = process.getOutputStream()) {
                        in.write(stdin.getBytes(StandardCharsets.UTF_8));
                    }
                }
                if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                    throw new MigratorException(ErrorCode.SANDBOX_FAILED, "'" + command.get(0) + "' did not finish within "
                            + timeout.toSeconds() + " s", "run it by hand to see where it hangs: " + String.join(" ", command));
                }
                return new Result(process.exitValue(), Files.readString(out.toPath(), StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(out.toPath());
            }
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, "cannot run '" + command.get(0) + "': " + e.getMessage(),
                    "check that the program is installed and on PATH");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, "interrupted while running '" + command.get(0) + "'", "run it again");
        }
    }

    static Result run(List<String> command, Duration timeout) {
        return run(command, Map.of(), null, timeout);
    }

    /** Starts a server in its own session (setsid), so it outlives this JVM and ignores our terminal's signals. */
    static void startDetached(List<String> command, Path log) {
        List<String> full = new ArrayList<>();
        full.add("setsid");
        full.addAll(command);
        ProcessBuilder builder = new ProcessBuilder(full)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectErrorStream(true);
        try {
            builder.start();
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, "cannot start '" + command.get(0) + "': " + e.getMessage(),
                    "check that the program is installed");
        }
    }

    /** The pid in a pid file, when the file exists and the process runs and its command line mentions {@code marker}. */
    static Optional<Long> livePid(Path pidFile, String marker) {
        try {
            if (!Files.isRegularFile(pidFile)) {
                return Optional.empty();
            }
            String first = Files.readAllLines(pidFile).stream().findFirst().orElse("").trim();
            long pid = Long.parseLong(first);
            return isOurs(pid, marker) ? Optional.of(pid) : Optional.empty();
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** True when the process runs and its command line or working directory names {@code marker}: never touch another's process. */
    static boolean isOurs(long pid, String marker) {
        Path proc = Path.of("/proc", Long.toString(pid));
        try {
            String cmdline = Files.readString(proc.resolve("cmdline"), StandardCharsets.UTF_8).replace('\0', ' ');
            if (cmdline.contains(marker)) {
                return true;
            }
            return Files.readSymbolicLink(proc.resolve("cwd")).toString().contains(marker);
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    /** Sends a signal and waits for the process to go; escalates to SIGKILL after the grace period. */
    static void stop(long pid, String signal, Duration grace) {
        run(List.of("kill", "-s", signal, Long.toString(pid)), Duration.ofSeconds(10));
        long deadline = System.nanoTime() + grace.toNanos();
        while (System.nanoTime() < deadline) {
            if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                sleep(100);
            } else {
                return;
            }
        }
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        sleep(200);
    }

    static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, "interrupted", "run the command again");
        }
    }

    /** The last lines of a log, to put into an error message. */
    static String tail(Path log, int lines) {
        try {
            List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log at " + log + ")";
        }
    }
}
