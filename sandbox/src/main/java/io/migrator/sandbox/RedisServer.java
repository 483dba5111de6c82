package io.migrator.sandbox;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A Redis server: no persistence, a 256 MB replication backlog (so a replica can resume with PSYNC),
 * a password, and, for cluster nodes, cluster mode with an explicit bus port.
 */
class RedisServer extends SandboxServer {
    private final String password;
    private final boolean clusterNode;

    RedisServer(String name, String role, Path dir, int port, String password, boolean clusterNode) {
        super(name, role, dir, port);
        this.password = password;
        this.clusterNode = clusterNode;
    }

    int port() {
        return port;
    }

    Path conf() {
        return dir.resolve("redis.conf");
    }

    private Path log() {
        return dir.resolve("redis.log");
    }

    @Override
    Optional<Long> pid() {
        return Processes.livePid(dir.resolve("redis.pid"), dir.toString());
    }

    static int busPort(int port) {
        return port + 10_000;
    }

    @Override
    void start(Tools tools, PrintStream progress) {
        if (pid().isPresent()) {
            return;
        }
        requirePortFree(port);
        if (clusterNode) {
            if (busPort(port) > 65_535) {
                throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.SANDBOX_FAILED,
                        "the cluster bus port of " + name + " would be " + busPort(port) + ", above 65535",
                        "use a smaller --port-offset");
            }
            requirePortFree(busPort(port));
        }
        try {
            Files.createDirectories(dir);
            SandboxTls tls = clusterNode ? null : SandboxTls.ensure(dir.getParent(), progress);
            if (tls != null) {
                requirePortFree(port + SandboxTls.REDIS_TLS_PORT_OFFSET);
            }
            String conf = String.join("\n",
                    "# migrator sandbox: " + name,
                    "port " + port,
                    "bind " + HOST,
                    "daemonize yes",
                    "dir " + dir,
                    "logfile " + log(),
                    "pidfile " + dir.resolve("redis.pid"),
                    "save \"\"",
                    "appendonly no",
                    "repl-backlog-size 256mb",
                    "repl-diskless-sync-delay 0",
                    "requirepass " + password,
                    "masterauth " + password,
                    // TLS on a port of its own beside the plain one (as ElastiCache's in-transit encryption would be)
                    tls == null ? "" : "tls-port " + (port + SandboxTls.REDIS_TLS_PORT_OFFSET),
                    tls == null ? "" : "tls-cert-file " + tls.serverCert(),
                    tls == null ? "" : "tls-key-file " + tls.serverKey(),
                    tls == null ? "" : "tls-ca-cert-file " + tls.ca(),
                    tls == null ? "" : "tls-auth-clients optional",
                    tls == null ? "" : "tls-replication no",
                    clusterNode ? "cluster-enabled yes" : "",
                    clusterNode ? "cluster-config-file " + dir.resolve("nodes.conf") : "",
                    clusterNode ? "cluster-node-timeout 5000" : "",
                    clusterNode ? "cluster-port " + busPort(port) : "",
                    "");
            Files.writeString(conf(), conf, StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(conf(), PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        progress.println("starting " + name + " on " + HOST + ":" + port);
        Processes.Result started = Processes.run(List.of(tools.redisServer().toString(), conf().toString()), Duration.ofSeconds(30));
        if (!started.ok()) {
            throw failure("redis-server", started, "read " + log());
        }
        await("answers PING", Duration.ofSeconds(30), log(), () -> pid().isPresent() && ping(tools));
    }

    boolean ping(Tools tools) {
        return cli(tools, "PING").output().contains("PONG");
    }

    Processes.Result cli(Tools tools, String... args) {
        List<String> command = new java.util.ArrayList<>(List.of(tools.redisCli().toString(), "-h", HOST, "-p", Integer.toString(port)));
        command.addAll(List.of(args));
        // REDISCLI_AUTH keeps the password off the process list.
        return Processes.run(command, Map.of("REDISCLI_AUTH", password), null, Duration.ofSeconds(30));
    }

    @Override
    void stop(Tools tools) {
        pid().ifPresent(pid -> Processes.stop(pid, "TERM", Duration.ofSeconds(30)));
    }

    @Override
    SandboxEndpoint endpoint(String state, long pid) {
        return new SandboxEndpoint(name, SandboxEngine.REDIS, role, HOST, port, "", password, "", List.of(), state, pid);
    }
}
