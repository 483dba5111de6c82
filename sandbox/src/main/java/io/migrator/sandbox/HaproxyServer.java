package io.migrator.sandbox;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * HAProxy in front of a sandbox source, where the application's endpoint stands: a TCP frontend on {@code port} passing
 * to backend {@code backend}, server {@code primary} (the source), and the runtime API on {@code adminPort} (a stats
 * socket at admin level), through which a cutover repoints the server ({@code set server B/primary addr A port P}) and
 * ends the sessions on the old address ({@code shutdown sessions server B/primary}).
 */
final class HaproxyServer extends SandboxServer {
    private final int adminPort;
    private final String backend;
    private final int upstreamPort;
    private final SandboxEngine engine;
    private final String user;
    private final String password;
    private final String database;

    HaproxyServer(String name, Path dir, int port, int adminPort, String backend, int upstreamPort, SandboxEngine engine, String user,
                  String password, String database) {
        super(name, "proxy", dir, port);
        this.adminPort = adminPort;
        this.backend = backend;
        this.upstreamPort = upstreamPort;
        this.engine = engine;
        this.user = user;
        this.password = password;
        this.database = database;
    }

    private Path config() {
        return dir.resolve("haproxy.cfg");
    }

    private Path pidFile() {
        return dir.resolve("haproxy.pid");
    }

    @Override
    Optional<Long> pid() {
        return Processes.livePid(pidFile(), dir.toString());
    }

    @Override
    void start(Tools tools, PrintStream progress) {
        if (pid().isPresent()) {
            return;
        }
        requirePortFree(port);
        requirePortFree(adminPort);
        try {
            Files.createDirectories(dir);
            Files.writeString(config(), String.join("\n",
                    "# migrator sandbox: " + name + ", the application's endpoint in front of the " + engine + " source",
                    "global",
                    "    pidfile " + pidFile(),
                    "    stats socket ipv4@" + HOST + ":" + adminPort + " level admin",
                    "defaults",
                    "    mode tcp",
                    "    timeout connect 5s",
                    // sessions stay open as long as the application keeps them; a cutover ends them itself
                    "    timeout client 24h",
                    "    timeout server 24h",
                    "frontend " + backend + "_in",
                    "    bind " + HOST + ":" + port,
                    "    default_backend " + backend,
                    "backend " + backend,
                    "    server primary " + HOST + ":" + upstreamPort,
                    ""), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        progress.println("starting " + name + " on " + HOST + ":" + port + " (runtime API on " + HOST + ":" + adminPort + ")");
        Processes.Result checked = Processes.run(List.of(tools.haproxy().toString(), "-c", "-f", config().toString()), Duration.ofSeconds(30));
        if (!checked.ok()) {
            throw failure("haproxy -c (configuration check)", checked, "read " + config());
        }
        Processes.Result started = Processes.run(List.of(tools.haproxy().toString(), "-D", "-f", config().toString(), "-p", pidFile().toString()),
                Duration.ofSeconds(30));
        if (!started.ok()) {
            throw failure("haproxy", started, "read " + config() + "; `migrator sandbox down` then `sandbox up --proxies` starts afresh");
        }
        await("listens on " + port + " and " + adminPort, Duration.ofSeconds(30), config(),
                () -> pid().isPresent() && portAnswers(port) && portAnswers(adminPort));
    }

    @Override
    void stop(Tools tools) {
        pid().ifPresent(pid -> Processes.stop(pid, "TERM", Duration.ofSeconds(10)));
    }

    @Override
    SandboxEndpoint endpoint(String state, long pid) {
        return new SandboxEndpoint(name, engine, role, HOST, port, user, password, database, List.of(), state, pid);
    }
}
