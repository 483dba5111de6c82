package io.migrator.core.cutover;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a program of the user's (a freeze command, a switch command) with the given environment and a time limit: exit 0
 * is done; another exit, or the time limit, is an error carrying the end of its output.
 */
final class Commands {
    private static final int KEEP = 2_000;

    private Commands() {
    }

    /** Whether the program can be started: a path that is an executable file, or a name found on PATH. */
    static boolean runnable(String program) {
        if (program.contains("/")) {
            Path p = Path.of(program);
            return Files.isRegularFile(p) && Files.isExecutable(p);
        }
        String path = System.getenv("PATH");
        for (String dir : (path == null ? "" : path).split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, program);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return true;
            }
        }
        return false;
    }

    /** Runs {@code argv}; returns the end of its output. */
    static String run(List<String> argv, Map<String, String> env, Duration limit, String what) {
        ProcessBuilder builder = new ProcessBuilder(argv).redirectErrorStream(true);
        builder.environment().putAll(env);
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, what + ": cannot start " + argv.get(0) + " (" + e.getMessage() + ")",
                    "check the program's path and that it is executable", e);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> drain(process.getInputStream(), out), "command-output");
        reader.setDaemon(true);
        reader.start();
        try {
            if (!process.waitFor(Math.max(1, limit.toMillis()), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new MigratorException(ErrorCode.TIMED_OUT, what + ": " + argv.get(0) + " did not finish within " + limit.toMillis()
                        + " ms; output: " + tail(out), "make it finish faster, or give the cutover a larger budget");
            }
            reader.join(1_000);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new MigratorException(ErrorCode.INTERNAL, what + " was interrupted", "run the cutover again");
        }
        if (process.exitValue() != 0) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, what + ": " + argv.get(0) + " exited " + process.exitValue() + "; output: "
                    + tail(out), "run it by hand to see why; it must exit 0 once done");
        }
        return tail(out);
    }

    private static void drain(InputStream in, ByteArrayOutputStream out) {
        byte[] buffer = new byte[4096];
        try (in) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                synchronized (out) {
                    out.write(buffer, 0, n);
                }
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }

    private static String tail(ByteArrayOutputStream out) {
        String text;
        synchronized (out) {
            text = out.toString(StandardCharsets.UTF_8).strip();
        }
        return text.length() <= KEEP ? text : "..." + text.substring(text.length() - KEEP);
    }
}
