package io.migrator.core.plan;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One side of a migration. SQL engines use {@code database}; Redis uses {@code databases} and, on a
 * target, {@code cluster}. {@link #toString()} never shows the password.
 */
public record Endpoint(Engine engine, String host, int port, String user, Secret password, String database,
                       List<Integer> databases, boolean cluster, java.time.Duration readTimeout, Tls tls) {
    /** How long a read on a connection may wait by default before the connection counts as dead (network.readTimeout). */
    public static final java.time.Duration DEFAULT_READ_TIMEOUT = java.time.Duration.ofMinutes(5);

    public Endpoint(Engine engine, String host, int port, String user, Secret password, String database, List<Integer> databases,
                    boolean cluster) {
        this(engine, host, port, user, password, database, databases, cluster, DEFAULT_READ_TIMEOUT, null);
    }

    public Endpoint(Engine engine, String host, int port, String user, Secret password, String database, List<Integer> databases,
                    boolean cluster, java.time.Duration readTimeout) {
        this(engine, host, port, user, password, database, databases, cluster, readTimeout, null);
    }

    public Endpoint {
        readTimeout = readTimeout == null ? DEFAULT_READ_TIMEOUT : readTimeout;
        Objects.requireNonNull(engine, "engine");
        tls = tls == null ? Tls.defaultFor(engine) : tls;
        Objects.requireNonNull(host, "host");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port must be 1..65535, was " + port);
        }
        password = password == null ? Secret.NONE : password;
        user = user == null ? "" : user;
        database = database == null ? "" : database;
        databases = databases == null ? List.of() : List.copyOf(databases);
    }

    /** This endpoint with another read timeout. */
    public Endpoint withReadTimeout(java.time.Duration timeout) {
        return new Endpoint(engine, host, port, user, password, database, databases, cluster, timeout, tls);
    }

    /** This endpoint with other Redis databases (a reverse direction reads the databases the forward one wrote). */
    public Endpoint withDatabases(List<Integer> dbs) {
        return new Endpoint(engine, host, port, user, password, database, dbs, cluster, readTimeout, tls);
    }

    /** This endpoint with other TLS settings. */
    public Endpoint withTls(Tls settings) {
        return new Endpoint(engine, host, port, user, password, database, databases, cluster, readTimeout, settings);
    }

    /** host:port as a user would type it. */
    public String address() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    /** True when both endpoints name the same server and database (loopback spellings count as equal). */
    public boolean sameDataAs(Endpoint other) {
        return canonicalHost(host).equals(canonicalHost(other.host)) && port == other.port
                && engine.family() == other.engine.family()
                && (engine.isSql() ? database.equals(other.database) : true);
    }

    private static String canonicalHost(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        return switch (h) {
            case "localhost", "127.0.0.1", "::1", "[::1]" -> "loopback";
            default -> h;
        };
    }

    @Override
    public String toString() {
        return engine + "://" + (user.isEmpty() ? "" : user + "@") + address()
                + (database.isEmpty() ? "" : "/" + database);
    }
}
