package io.migrator.sandbox;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * PostgreSQL configured for logical decoding: wal_level=logical, room for replication slots and WAL
 * senders, password (SCRAM) logins over TCP. Role {@code migrator} (superuser, replication); database
 * {@code shop}. PostgreSQL refuses to run as root, so as root the server runs as the 'postgres' user.
 */
final class PostgresServer extends SandboxServer {
    static final String USER = "migrator";
    static final String DATABASE = "shop";
    private static final String OS_USER = "postgres";

    private final String password;

    PostgresServer(String name, String role, Path dir, int port, String password) {
        super(name, role, dir, port);
        this.password = password;
    }

    private Path data() {
        return dir.resolve("data");
    }

    private Path log() {
        return dir.resolve("postgres.log");
    }

    @Override
    Optional<Long> pid() {
        return Processes.livePid(data().resolve("postmaster.pid"), data().toString());
    }

    /** As root, runs the PostgreSQL tools as the 'postgres' user. */
    private List<String> asServerUser(List<String> command) {
        if (!Processes.isRoot()) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", OS_USER, "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    @Override
    void start(Tools tools, PrintStream progress) {
        if (pid().isPresent()) {
            return;
        }
        requirePortFree(port);
        Path bin = tools.postgresBin();
        try {
            Files.createDirectories(dir);
            // PostgreSQL reads its key only when its own user owns it with no access for others: a copy in its folder
            SandboxTls tls = SandboxTls.ensure(dir.getParent(), progress);
            Files.copy(tls.serverCert(), dir.resolve("server.pem"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(tls.serverKey(), dir.resolve("server.key"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(tls.ca(), dir.resolve("ca.pem"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.setPosixFilePermissions(dir.resolve("server.key"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            if (Processes.isRoot()) {
                Processes.Result chown = Processes.run(List.of("chown", "-R", OS_USER + ":", dir.toString()), Duration.ofSeconds(30));
                if (!chown.ok()) {
                    throw failure("giving " + dir + " to the '" + OS_USER + "' user", chown,
                            "PostgreSQL refuses to run as root: create the user with 'useradd -r postgres' (the postgresql packages do)");
                }
            }
            if (Processes.isRoot() && !Processes.run(asServerUser(List.of("test", "-w", dir.toString())), Duration.ofSeconds(10)).ok()) {
                throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.SANDBOX_FAILED,
                        "the '" + OS_USER + "' user cannot reach " + dir + " (PostgreSQL refuses to run as root, so it runs as '"
                                + OS_USER + "')", "use a --dir whose parent folders others may enter (chmod o+x), e.g. under the repository");
            }
            if (!Files.isRegularFile(data().resolve("PG_VERSION"))) {
                progress.println("initializing " + name + " in " + data());
                Processes.Result init = Processes.run(asServerUser(List.of(bin.resolve("initdb").toString(), "-D", data().toString(),
                        "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                        "--locale=C.UTF-8")), Duration.ofMinutes(3));
                if (!init.ok()) {
                    throw failure("initdb", init, "delete " + data() + " and run sandbox up again");
                }
                Files.writeString(data().resolve("postgresql.conf"), String.join("\n",
                        "", "# migrator sandbox: logical decoding for CDC",
                        "listen_addresses = '" + HOST + "'",
                        "wal_level = logical",
                        "max_replication_slots = 20",
                        "max_wal_senders = 20",
                        "max_connections = 200",
                        "shared_buffers = 128MB",
                        "max_wal_size = 2GB",
                        "password_encryption = 'scram-sha-256'", ""),
                        StandardCharsets.UTF_8, StandardOpenOption.APPEND);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        progress.println("starting " + name + " on " + HOST + ":" + port);
        Processes.Result started = Processes.run(asServerUser(List.of(bin.resolve("pg_ctl").toString(), "-D", data().toString(),
                "-l", log().toString(), "-w", "-t", "90", "-o", "-p " + port + " -k " + dir + " -c ssl=on -c ssl_cert_file=" + dir.resolve("server.pem")
                + " -c ssl_key_file=" + dir.resolve("server.key") + " -c ssl_ca_file=" + dir.resolve("ca.pem"), "start")), Duration.ofSeconds(120));
        if (!started.ok()) {
            throw failure("pg_ctl start", started, "read " + log());
        }
        await("postmaster.pid written", Duration.ofSeconds(30), log(), () -> pid().isPresent());
        bootstrap(bin);
    }

    private void bootstrap(Path bin) {
        String script = "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + USER + "') THEN "
                + "CREATE ROLE " + USER + " LOGIN SUPERUSER REPLICATION; END IF; END$$;\n"
                + "ALTER ROLE " + USER + " WITH LOGIN SUPERUSER REPLICATION PASSWORD '" + password + "';\n"
                + "SELECT 'CREATE DATABASE " + DATABASE + " OWNER " + USER + "' WHERE NOT EXISTS "
                + "(SELECT FROM pg_database WHERE datname = '" + DATABASE + "')\\gexec\n";
        Processes.Result result = Processes.run(asServerUser(List.of(bin.resolve("psql").toString(), "-X", "-q", "-h", dir.toString(),
                "-p", Integer.toString(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-f", "-")),
                Map.of(), script, Duration.ofSeconds(30));
        if (!result.ok()) {
            throw failure("creating role " + USER + " and database " + DATABASE, result, "read " + log());
        }
        if (role.equals("source")) {
            Processes.Result seeded = Processes.run(asServerUser(List.of(bin.resolve("psql").toString(), "-X", "-q", "-h", dir.toString(),
                    "-p", Integer.toString(port), "-U", "postgres", "-d", DATABASE, "-v", "ON_ERROR_STOP=1", "-f", "-")),
                    Map.of(), SAMPLE_SHOP, Duration.ofSeconds(60));
            if (!seeded.ok()) {
                throw failure("seeding the sample shop", seeded, "read " + log());
            }
        }
    }

    /** The same small marketplace as the MariaDB source, in PostgreSQL's types (an enum, identity keys, timestamptz). */
    private static final String SAMPLE_SHOP = String.join("\n",
            "SET ROLE " + USER + ";",
            // the default search_path starts with "$user": once a migration has created its `migrator` schema here (the
            // heartbeat), unqualified names of a `migrator` session would land in it
            "SET search_path = public;",
            "DO $$BEGIN CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled'); EXCEPTION WHEN duplicate_object THEN NULL; END$$;",
            "CREATE TABLE IF NOT EXISTS customers (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE,",
            "  name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());",
            "CREATE TABLE IF NOT EXISTS orders (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, customer_id bigint NOT NULL,",
            "  status order_status NOT NULL DEFAULT 'new', total numeric(12,2) NOT NULL, placed_at timestamptz NOT NULL DEFAULT now());",
            "CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id);",
            "INSERT INTO customers (id, email, name) SELECT g, 'buyer' || g || '@example.com', 'Buyer ' || g FROM generate_series(1, 1000) g",
            "  ON CONFLICT DO NOTHING;",
            "INSERT INTO orders (id, customer_id, status, total) SELECT g, 1 + g % 1000,",
            "  (ARRAY['new', 'paid', 'shipped', 'cancelled'])[1 + g % 4]::order_status, (g % 500) + 0.99 FROM generate_series(1, 5000) g",
            "  ON CONFLICT DO NOTHING;",
            "SELECT setval(pg_get_serial_sequence('customers', 'id'), 1000); SELECT setval(pg_get_serial_sequence('orders', 'id'), 5000);",
            "");

    @Override
    void stop(Tools tools) {
        // SIGINT is PostgreSQL's fast shutdown: it does not wait for clients (such as a replication stream) to leave.
        pid().ifPresent(pid -> Processes.stop(pid, "INT", Duration.ofSeconds(60)));
    }

    @Override
    SandboxEndpoint endpoint(String state, long pid) {
        return new SandboxEndpoint(name, SandboxEngine.POSTGRESQL, role, HOST, port, USER, password, DATABASE, List.of(), state, pid);
    }
}
