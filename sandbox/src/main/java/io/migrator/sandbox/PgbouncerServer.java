package io.migrator.sandbox;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * pgbouncer in front of the PostgreSQL source, where the application's endpoint stands: every database ({@code *})
 * routed to the source, transaction pooling (a cutover's PAUSE returns once each server connection is idle, which in
 * session pooling would wait for every client to leave), and the admin console (database {@code pgbouncer}, the sandbox
 * user) through which a cutover pauses, repoints (the {@code [databases]} entry, then RELOAD) and resumes. The console
 * refuses the {@code extra_float_digits} startup parameter every pgjdbc connection sends (1.18: "unknown parameter"), so
 * it is spoken to with psql or the protocol itself, not JDBC. pgbouncer refuses to run as root: as root it runs as the
 * 'postgres' user, like the servers.
 */
final class PgbouncerServer extends SandboxServer {
    private static final String OS_USER = "postgres";

    private final int upstreamPort;
    private final String user;
    private final String password;
    private final String database;

    PgbouncerServer(String name, Path dir, int port, int upstreamPort, String user, String password, String database) {
        super(name, "proxy", dir, port);
        this.upstreamPort = upstreamPort;
        this.user = user;
        this.password = password;
        this.database = database;
    }

    private Path config() {
        return dir.resolve("pgbouncer.ini");
    }

    private Path log() {
        return dir.resolve("pgbouncer.log");
    }

    private Path pidFile() {
        return dir.resolve("pgbouncer.pid");
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
        try {
            Files.createDirectories(dir);
            // a pidfile whose process is gone (the machine restarted, pgbouncer was killed): pgbouncer refuses to start over it
            Files.deleteIfExists(pidFile());
            Path users = dir.resolve("userlist.txt");
            Files.writeString(users, "\"" + user + "\" \"" + password + "\"\n", StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(users, PosixFilePermissions.fromString("rw-------"));
            Files.writeString(config(), String.join("\n",
                    ";; migrator sandbox: " + name + ", the application's endpoint in front of the PostgreSQL source",
                    "[databases]",
                    "* = host=" + HOST + " port=" + upstreamPort,
                    "[pgbouncer]",
                    "listen_addr = " + HOST,
                    "listen_port = " + port,
                    "unix_socket_dir = " + dir,
                    "auth_type = scram-sha-256",
                    "auth_file = " + users,
                    "admin_users = " + user,
                    "pool_mode = transaction",
                    "max_client_conn = 500",
                    "default_pool_size = 20",
                    // JDBC drivers send these at connect; pgbouncer refuses unknown startup parameters otherwise
                    "ignore_startup_parameters = extra_float_digits,options",
                    "pidfile = " + pidFile(),
                    "logfile = " + log(),
                    ""), StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(config(), PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (Processes.isRoot()) {
            Processes.Result chown = Processes.run(List.of("chown", "-R", OS_USER + ":", dir.toString()), Duration.ofSeconds(30));
            if (!chown.ok()) {
                throw failure("giving " + dir + " to the '" + OS_USER + "' user", chown, "check that the user '" + OS_USER + "' exists");
            }
        }
        progress.println("starting " + name + " on " + HOST + ":" + port + " (admin console: database pgbouncer)");
        List<String> command = new ArrayList<>();
        if (Processes.isRoot()) {
            command.addAll(List.of("runuser", "-u", OS_USER, "--"));
        }
        command.addAll(List.of(tools.pgbouncer().toString(), "-d", config().toString()));
        Processes.Result started = Processes.run(command, Duration.ofSeconds(30));
        if (!started.ok()) {
            throw failure("pgbouncer", started, "read " + log());
        }
        await("listens on " + port, Duration.ofSeconds(30), log(), () -> pid().isPresent() && portAnswers(port));
    }

    @Override
    void stop(Tools tools) {
        pid().ifPresent(pid -> Processes.stop(pid, "TERM", Duration.ofSeconds(10)));
    }

    @Override
    SandboxEndpoint endpoint(String state, long pid) {
        return new SandboxEndpoint(name, SandboxEngine.POSTGRESQL, role, HOST, port, user, password, database, List.of(), state, pid);
    }
}
