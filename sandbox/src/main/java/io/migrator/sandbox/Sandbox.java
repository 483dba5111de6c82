package io.migrator.sandbox;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

/**
 * Throwaway, CDC-ready source/target server pairs on loopback, kept under one folder. {@link #up} is
 * idempotent; {@link #down} stops exactly the servers whose pid files and command lines belong to this
 * folder. Used by `migrator sandbox` and, through {@code SandboxExtension}, by the integration tests.
 */
public final class Sandbox {
    public static final int MARIADB_SOURCE_PORT = 13306;
    public static final int MARIADB_TARGET_PORT = 13307;
    public static final int POSTGRES_SOURCE_PORT = 15432;
    public static final int POSTGRES_TARGET_PORT = 15433;
    public static final int REDIS_SOURCE_PORT = 16379;
    public static final int REDIS_TARGET_PORT = 16380;
    public static final int REDIS_CLUSTER_FIRST_PORT = 17001;
    /** The application's endpoints a cutover switches (`sandbox up --proxies`), in front of each source. */
    public static final int MARIADB_PROXY_PORT = 13300;
    public static final int MARIADB_PROXY_ADMIN_PORT = 13399;
    public static final int POSTGRES_PROXY_PORT = 15400;
    public static final int REDIS_PROXY_PORT = 16300;
    public static final int REDIS_PROXY_ADMIN_PORT = 16399;

    private static final String SETTINGS_FILE = "sandbox.properties";

    private final Path dir;
    private final int portOffset;
    private final PrintStream progress;
    private final Tools tools;
    private final Map<SandboxEngine, List<SandboxServer>> servers = new LinkedHashMap<>();
    private final Map<SandboxEngine, SandboxServer> proxies = new LinkedHashMap<>();

    /**
     * @param portOffset added to every default port; null means the offset this folder was started with (or 0)
     */
    public Sandbox(Path dir, Integer portOffset, PrintStream progress) {
        this.dir = dir.toAbsolutePath().normalize();
        this.portOffset = portOffset != null ? portOffset : savedOffset(this.dir).orElse(0);
        if (this.portOffset < -13000 || this.portOffset > 38000) {
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, "--port-offset " + this.portOffset + " puts ports outside 1..65535",
                    "choose an offset from -13000 to 38000");
        }
        this.progress = progress;
        this.tools = new Tools(progress);
        int o = this.portOffset;
        servers.put(SandboxEngine.MARIADB, List.of(
                new MariaDbServer("mariadb-source", "source", this.dir.resolve("mariadb-source"), MARIADB_SOURCE_PORT + o, 1, password("mariadb")),
                new MariaDbServer("mariadb-target", "target", this.dir.resolve("mariadb-target"), MARIADB_TARGET_PORT + o, 2, password("mariadb"))));
        servers.put(SandboxEngine.POSTGRESQL, List.of(
                new PostgresServer("postgresql-source", "source", this.dir.resolve("postgresql-source"), POSTGRES_SOURCE_PORT + o, password("postgresql")),
                new PostgresServer("postgresql-target", "target", this.dir.resolve("postgresql-target"), POSTGRES_TARGET_PORT + o, password("postgresql"))));
        servers.put(SandboxEngine.REDIS, List.of(
                new RedisServer("redis-source", "source", this.dir.resolve("redis-source"), REDIS_SOURCE_PORT + o, password("redis"), false),
                new RedisServer("redis-target", "target", this.dir.resolve("redis-target"), REDIS_TARGET_PORT + o, password("redis"), false),
                new RedisClusterServer("redis-cluster", this.dir.resolve("redis-cluster"), REDIS_CLUSTER_FIRST_PORT + o, password("redis"))));
        proxies.put(SandboxEngine.MARIADB, new HaproxyServer("haproxy-mariadb", this.dir.resolve("haproxy-mariadb"), MARIADB_PROXY_PORT + o,
                MARIADB_PROXY_ADMIN_PORT + o, "mariadb", MARIADB_SOURCE_PORT + o, SandboxEngine.MARIADB, MariaDbServer.USER, password("mariadb"),
                MariaDbServer.DATABASE));
        proxies.put(SandboxEngine.POSTGRESQL, new PgbouncerServer("pgbouncer", this.dir.resolve("pgbouncer"), POSTGRES_PROXY_PORT + o,
                POSTGRES_SOURCE_PORT + o, PostgresServer.USER, password("postgresql"), PostgresServer.DATABASE));
        proxies.put(SandboxEngine.REDIS, new HaproxyServer("haproxy-redis", this.dir.resolve("haproxy-redis"), REDIS_PROXY_PORT + o,
                REDIS_PROXY_ADMIN_PORT + o, "redis", REDIS_SOURCE_PORT + o, SandboxEngine.REDIS, "", password("redis"), ""));
    }

    /** {@code $MIGRATOR_HOME/.sandbox} (the launcher sets it to the repository), else {@code ./.sandbox}. */
    public static Path defaultDir() {
        String root = System.getProperty("migrator.root", System.getenv("MIGRATOR_HOME"));
        return (root == null || root.isBlank() ? Path.of("") : Path.of(root)).toAbsolutePath().resolve(".sandbox");
    }

    public Path dir() {
        return dir;
    }

    public int portOffset() {
        return portOffset;
    }

    /** Starts the servers of these engines (installing packages when missing) and returns every server's state. */
    public List<SandboxEndpoint> up(Set<SandboxEngine> engines) {
        return up(engines, false);
    }

    /**
     * As {@link #up(Set)}; with {@code withProxies}, also the application's endpoint in front of each source (HAProxy for
     * MariaDB and Redis, pgbouncer for PostgreSQL), started after the source it forwards to.
     */
    public List<SandboxEndpoint> up(Set<SandboxEngine> engines, boolean withProxies) {
        if (engines.contains(SandboxEngine.REDIS)) {
            RedisClusterServer.checkPorts(REDIS_CLUSTER_FIRST_PORT + portOffset);
        }
        withLock(() -> {
            tools.ensure(engines, withProxies);
            saveOffset();
            for (SandboxEngine engine : engines) {
                for (SandboxServer server : servers.get(engine)) {
                    server.start(tools, progress);
                }
                if (withProxies) {
                    proxies.get(engine).start(tools, progress);
                }
            }
        });
        return status();
    }

    /** The servers of these engines that were not running before this call; they are the ones a caller started. */
    public List<String> notRunning(Set<SandboxEngine> engines) {
        List<String> names = new ArrayList<>();
        for (SandboxEngine engine : engines) {
            servers.get(engine).stream().filter(s -> s.pid().isEmpty()).forEach(s -> names.add(s.name()));
        }
        return names;
    }

    /** The proxies of these engines that are not running now: the ones a caller that starts them may stop afterwards. */
    public List<String> proxiesNotRunning(Set<SandboxEngine> engines) {
        return engines.stream().map(proxies::get).filter(p -> p.pid().isEmpty()).map(SandboxServer::name).toList();
    }

    /** Stops every server of this folder that runs (or only those named); the proxies go first, before what they forward to. */
    public List<SandboxEndpoint> down(Set<String> onlyThese) {
        withLock(() -> {
            for (SandboxServer proxy : proxies.values()) {
                if (proxy.pid().isPresent() && (onlyThese.isEmpty() || onlyThese.contains(proxy.name()))) {
                    progress.println("stopping " + proxy.name());
                    proxy.stop(tools);
                }
            }
            for (List<SandboxServer> group : servers.values()) {
                for (SandboxServer server : group) {
                    boolean running = server.pid().isPresent()
                            || server instanceof RedisClusterServer cluster && cluster.anyRunning();
                    if (running && (onlyThese.isEmpty() || onlyThese.contains(server.name()))) {
                        progress.println("stopping " + server.name());
                        server.stop(tools);
                    }
                }
            }
        });
        return status();
    }

    public List<SandboxEndpoint> down() {
        return down(Set.of());
    }

    public List<SandboxEndpoint> status() {
        List<SandboxEndpoint> all = new ArrayList<>();
        servers.values().forEach(group -> group.forEach(s -> all.add(s.endpoint())));
        // a proxy is listed once it was started here (`up --proxies`); a sandbox without them shows only the servers
        proxies.values().stream().filter(p -> Files.isDirectory(p.dir)).forEach(p -> all.add(p.endpoint()));
        return all;
    }

    public SandboxEndpoint endpoint(String name) {
        return status().stream().filter(e -> e.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no sandbox server named " + name));
    }

    public static Set<SandboxEngine> allEngines() {
        return EnumSet.allOf(SandboxEngine.class);
    }

    /** Each engine family gets one random password, kept in secrets/ (mode 600) so example plans can read it. */
    private String password(String engine) {
        Path file = dir.resolve("secrets").resolve(engine + ".password");
        try {
            if (Files.isRegularFile(file)) {
                return Files.readString(file, StandardCharsets.UTF_8).strip();
            }
            Files.createDirectories(file.getParent());
            Files.setPosixFilePermissions(file.getParent(), PosixFilePermissions.fromString("rwx--x--x"));
            byte[] random = new byte[12];
            new SecureRandom().nextBytes(random);
            String value = "sbx-" + HexFormat.of().formatHex(random);
            Files.writeString(file, value + "\n", StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            return value;
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, "cannot keep the sandbox password in " + file + ": " + e.getMessage(),
                    "make " + dir + " writable or pass another --dir");
        }
    }

    private void saveOffset() throws IOException {
        Properties p = new Properties();
        p.setProperty("portOffset", Integer.toString(portOffset));
        try (var out = Files.newOutputStream(dir.resolve(SETTINGS_FILE))) {
            p.store(out, "migrator sandbox");
        }
    }

    private static Optional<Integer> savedOffset(Path dir) {
        Path file = dir.resolve(SETTINGS_FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try (var in = Files.newInputStream(file)) {
            p.load(in);
            return Optional.of(Integer.parseInt(p.getProperty("portOffset", "0").trim()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private interface Work {
        void run() throws IOException;
    }

    /** One sandbox command at a time per folder (a test run and a terminal may share it). */
    private void withLock(Work work) {
        try {
            Files.createDirectories(dir);
            try (FileChannel channel = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = channel.lock()) {
                work.run();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
