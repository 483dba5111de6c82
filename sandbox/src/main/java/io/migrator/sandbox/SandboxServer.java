package io.migrator.sandbox;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/** One throwaway server of the sandbox: its folder, its port, how to start, probe and stop it. */
abstract class SandboxServer {
    static final String HOST = "127.0.0.1";

    protected final String name;
    protected final String role;
    protected final Path dir;
    protected final int port;

    SandboxServer(String name, String role, Path dir, int port) {
        this.name = name;
        this.role = role;
        this.dir = dir;
        this.port = port;
    }

    String name() {
        return name;
    }

    /** The pid of this server when it runs from this sandbox folder. */
    abstract Optional<Long> pid();

    /** Initializes the data folder when new, starts the server, waits until it answers, creates users and databases. */
    abstract void start(Tools tools, PrintStream progress);

    abstract void stop(Tools tools);

    abstract SandboxEndpoint endpoint(String state, long pid);

    SandboxEndpoint endpoint() {
        Optional<Long> pid = pid();
        return endpoint(pid.isPresent() ? "running" : "stopped", pid.orElse(0L));
    }

    /** Refuses to start when another program holds our port. */
    protected void requirePortFree(int p) {
        if (portAnswers(p)) {
            throw new MigratorException(ErrorCode.SANDBOX_PORT_IN_USE, "port " + p + " (for " + name
                    + ") is in use by a process this sandbox did not start",
                    "stop that process, or use other ports: migrator sandbox up --port-offset 100");
        }
    }

    static boolean portAnswers(int p) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(HOST, p), 300);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    protected void await(String what, Duration timeout, Path log, BooleanSupplier ready) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (ready.getAsBoolean()) {
                return;
            }
            Processes.sleep(200);
        }
        throw new MigratorException(ErrorCode.SANDBOX_FAILED, name + " did not become ready (" + what + ") within "
                + timeout.toSeconds() + " s; last lines of " + log + ":\n" + Processes.tail(log, 15),
                "read " + log + "; `migrator sandbox down` then `sandbox up` starts afresh, deleting " + dir + " resets it");
    }

    protected MigratorException failure(String what, Processes.Result result, String remedy) {
        return new MigratorException(ErrorCode.SANDBOX_FAILED, name + ": " + what + " failed (exit " + result.exitCode() + "):\n"
                + result.output().strip(), remedy);
    }
}
