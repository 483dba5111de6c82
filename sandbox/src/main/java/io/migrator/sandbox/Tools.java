package io.migrator.sandbox;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Finds the server programs, and installs the Debian packages that hold them when they are missing
 * (as root; otherwise it prints the exact command).
 */
final class Tools {
    private final PrintStream progress;

    Tools(PrintStream progress) {
        this.progress = progress;
    }

    Path mariadbd() {
        return first("mariadbd", "mysqld").orElseThrow();
    }

    Path mariadbInstallDb() {
        return first("mariadb-install-db", "mysql_install_db").orElseThrow();
    }

    Path mariadbClient() {
        return first("mariadb", "mysql").orElseThrow();
    }

    Path mariadbAdmin() {
        return first("mariadb-admin", "mysqladmin").orElseThrow();
    }

    Path redisServer() {
        return first("redis-server").orElseThrow();
    }

    Path haproxy() {
        return first("haproxy").orElseThrow();
    }

    Path pgbouncer() {
        return first("pgbouncer").orElseThrow();
    }

    Path redisCli() {
        return first("redis-cli").orElseThrow();
    }

    /** The PostgreSQL binaries folder: version 15 if present, else the newest installed. */
    Path postgresBin() {
        return postgresBinIfPresent().orElseThrow();
    }

    private Optional<Path> postgresBinIfPresent() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> versions = Files.list(root)) {
            List<Path> bins = versions.map(v -> v.resolve("bin")).filter(b -> Files.isExecutable(b.resolve("initdb"))).toList();
            return bins.stream().filter(b -> b.getParent().getFileName().toString().equals("15")).findFirst()
                    .or(() -> bins.stream().max(Comparator.comparing(b -> versionOf(b.getParent().getFileName().toString()))));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static int versionOf(String name) {
        try {
            return Integer.parseInt(name);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Makes sure the programs of these engines (and their proxies) exist, installing their packages when it can. */
    void ensure(Set<SandboxEngine> engines, boolean withProxies) {
        Set<String> packages = new LinkedHashSet<>();
        List<String> why = new ArrayList<>();
        if (!engines.isEmpty() && first("openssl").isEmpty()) {
            packages.add("openssl");
            why.add("openssl for the sandbox's TLS certificates");
        }
        if (withProxies && (engines.contains(SandboxEngine.MARIADB) || engines.contains(SandboxEngine.REDIS)) && first("haproxy").isEmpty()) {
            packages.add("haproxy");
            why.add("HAProxy in front of the MariaDB and Redis sources (--proxies)");
        }
        if (withProxies && engines.contains(SandboxEngine.POSTGRESQL) && first("pgbouncer").isEmpty()) {
            packages.add("pgbouncer");
            why.add("pgbouncer in front of the PostgreSQL source (--proxies)");
        }
        if (engines.contains(SandboxEngine.MARIADB) && (first("mariadbd", "mysqld").isEmpty()
                || first("mariadb-install-db", "mysql_install_db").isEmpty() || first("mariadb", "mysql").isEmpty())) {
            packages.add("mariadb-server");
            packages.add("mariadb-client");
            why.add("MariaDB server and client for the MariaDB source/target pair");
        }
        if (engines.contains(SandboxEngine.POSTGRESQL) && postgresBinIfPresent().isEmpty()) {
            packages.add("postgresql-15");
            why.add("PostgreSQL 15 for the PostgreSQL source/target pair");
        }
        if (engines.contains(SandboxEngine.REDIS) && (first("redis-server").isEmpty() || first("redis-cli").isEmpty())) {
            packages.add("redis-server");
            packages.add("redis-tools");
            why.add("Redis server and redis-cli for the Redis pair and the Redis Cluster target");
        }
        if (packages.isEmpty()) {
            return;
        }
        String command = "apt-get install -y --no-install-recommends " + String.join(" ", packages);
        if (!Processes.isRoot()) {
            throw new MigratorException(ErrorCode.SANDBOX_PACKAGES_MISSING, "the sandbox needs Debian packages that are not installed: "
                    + String.join(", ", packages) + " (" + String.join("; ", why) + ")",
                    "run: sudo " + command + ", then migrator sandbox up again");
        }
        progress.println("installing Debian packages " + String.join(" ", packages) + " — " + String.join("; ", why));
        Map<String, String> env = Map.of("DEBIAN_FRONTEND", "noninteractive");
        List<String> install = new ArrayList<>(List.of("apt-get", "install", "-y", "--no-install-recommends"));
        install.addAll(packages);
        Processes.Result result = Processes.run(install, env, null, Duration.ofMinutes(10));
        if (!result.ok()) {
            progress.println("apt-get install failed; refreshing the package lists (apt-get update) and trying again");
            Processes.run(List.of("apt-get", "update"), env, null, Duration.ofMinutes(10));
            result = Processes.run(install, env, null, Duration.ofMinutes(10));
        }
        if (!result.ok()) {
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, "installing " + String.join(" ", packages) + " failed:\n"
                    + lastLines(result.output(), 8), "run '" + command + "' by hand and fix what it reports");
        }
    }

    private static String lastLines(String text, int n) {
        String[] lines = text.split("\n");
        return String.join("\n", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - n), lines.length));
    }

    private static Optional<Path> first(String... names) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin:/usr/local/bin";
        for (String name : names) {
            for (String dir : path.split(":")) {
                if (dir.isEmpty()) {
                    continue;
                }
                Path candidate = Path.of(dir, name);
                if (Files.isExecutable(candidate)) {
                    return Optional.of(candidate);
                }
            }
        }
        return Optional.empty();
    }
}
