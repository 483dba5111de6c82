package io.migrator.sandbox;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * MariaDB configured for CDC: binlog in ROW format with FULL row images, a distinct server id, GTIDs,
 * one day of binlog retention (benchmarks write tens of GB of binlog a day). User {@code migrator} has every privilege; database {@code shop} exists.
 */
final class MariaDbServer extends SandboxServer {
    static final String USER = "migrator";
    static final String DATABASE = "shop";

    /** A small marketplace on the source, so `migrator run plans/mariadb-to-mariadb.yaml` moves something real. */
    private static final String SAMPLE_SHOP = String.join("\n",
            "CREATE TABLE IF NOT EXISTS shop.customers (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE,",
            "  name VARCHAR(80) CHARACTER SET utf8mb4 NOT NULL, created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6));",
            "CREATE TABLE IF NOT EXISTS shop.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id BIGINT NOT NULL,",
            "  status ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new', total DECIMAL(12,2) NOT NULL,",
            "  placed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), KEY by_customer (customer_id));",
            "INSERT IGNORE INTO shop.customers (id, email, name) SELECT seq, CONCAT('buyer', seq, '@example.com'),",
            "  CONCAT('Buyer ', seq) FROM shop.seq_1_to_1000;",
            "INSERT IGNORE INTO shop.orders (id, customer_id, status, total) SELECT seq, 1 + seq % 1000,",
            "  ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'cancelled'), (seq % 500) + 0.99 FROM shop.seq_1_to_5000;",
            "");

    private final int serverId;
    private final String password;

    MariaDbServer(String name, String role, Path dir, int port, int serverId, String password) {
        super(name, role, dir, port);
        this.serverId = serverId;
        this.password = password;
    }

    private Path data() {
        return dir.resolve("data");
    }

    private Path socket() {
        return dir.resolve("mysqld.sock");
    }

    private Path pidFile() {
        return dir.resolve("mysqld.pid");
    }

    private Path log() {
        return dir.resolve("error.log");
    }

    @Override
    Optional<Long> pid() {
        return Processes.livePid(pidFile(), data().toString());
    }

    @Override
    void start(Tools tools, PrintStream progress) {
        if (pid().isPresent()) {
            bootstrap(tools); // idempotent: users, databases and the sample shop exist after every `up`
            return;
        }
        requirePortFree(port);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (!Files.isDirectory(data().resolve("mysql"))) {
            progress.println("initializing " + name + " in " + data());
            Processes.Result init = Processes.run(List.of(tools.mariadbInstallDb().toString(), "--no-defaults",
                    "--datadir=" + data(), "--user=" + System.getProperty("user.name"),
                    "--auth-root-authentication-method=normal", "--skip-test-db"), Duration.ofMinutes(3));
            if (!init.ok()) {
                throw failure("mariadb-install-db", init, "delete " + data() + " and run sandbox up again");
            }
        }
        List<String> command = new ArrayList<>(List.of(tools.mariadbd().toString(), "--no-defaults",
                "--datadir=" + data(), "--port=" + port, "--bind-address=" + HOST, "--socket=" + socket(),
                "--pid-file=" + pidFile(), "--log-error=" + log(),
                "--log-bin=" + data().resolve("binlog"), "--binlog-format=ROW", "--binlog-row-image=FULL",
                "--server-id=" + serverId, "--gtid-strict-mode=ON", "--log-slave-updates=ON",
                "--binlog-expire-logs-seconds=86400",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
                "--skip-name-resolve", "--local-infile=ON", "--max-allowed-packet=256M",
                "--innodb-buffer-pool-size=256M", "--innodb-log-file-size=256M", "--performance-schema=OFF",
                "--max-connections=300"));
        SandboxTls tls = SandboxTls.ensure(dir.getParent(), progress); // TLS offered, not required: plans choose
        command.addAll(List.of("--ssl-ca=" + tls.ca(), "--ssl-cert=" + tls.serverCert(), "--ssl-key=" + tls.serverKey()));
        if (Processes.isRoot()) {
            command.add("--user=root");
        }
        progress.println("starting " + name + " on " + HOST + ":" + port);
        Processes.startDetached(command, dir.resolve("mariadbd.out"));
        await("answers a ping on its socket", Duration.ofSeconds(90), log(), () -> pid().isPresent()
                && Processes.run(List.of(tools.mariadbAdmin().toString(), "--no-defaults", "--socket=" + socket(), "-uroot",
                "ping"), Duration.ofSeconds(10)).ok());
        bootstrap(tools);
    }

    private void bootstrap(Tools tools) {
        String sql = "CREATE USER IF NOT EXISTS '" + USER + "'@'%' IDENTIFIED BY '" + password + "';\n"
                + "ALTER USER '" + USER + "'@'%' IDENTIFIED BY '" + password + "';\n"
                + "GRANT ALL PRIVILEGES ON *.* TO '" + USER + "'@'%' WITH GRANT OPTION;\n"
                + "CREATE DATABASE IF NOT EXISTS `" + DATABASE + "`;\n"
                + (role.equals("source") ? SAMPLE_SHOP : "");
        Processes.Result result = Processes.run(List.of(tools.mariadbClient().toString(), "--no-defaults",
                "--socket=" + socket(), "-uroot"), java.util.Map.of(), sql, Duration.ofSeconds(30));
        if (!result.ok()) {
            throw failure("creating user " + USER + " and database " + DATABASE, result, "read " + log());
        }
    }

    @Override
    void stop(Tools tools) {
        pid().ifPresent(pid -> Processes.stop(pid, "TERM", Duration.ofSeconds(60)));
    }

    @Override
    SandboxEndpoint endpoint(String state, long pid) {
        return new SandboxEndpoint(name, SandboxEngine.MARIADB, role, HOST, port, USER, password, DATABASE, List.of(), state, pid);
    }
}
