package io.migrator.sandbox;

import java.util.List;

/**
 * A running sandbox server as clients see it. It carries the password on purpose: `sandbox up -o json`
 * prints credentials of throwaway servers so scripts can use them.
 */
public record SandboxEndpoint(String name, SandboxEngine engine, String role, String host, int port, String user,
                              String password, String database, List<String> nodes, String state, long pid) {
    public SandboxEndpoint {
        nodes = nodes == null ? List.of() : List.copyOf(nodes);
    }

    public boolean running() {
        return "running".equals(state);
    }

    /** A JDBC URL for a database on this server (MariaDB or PostgreSQL). */
    public String jdbcUrl(String db) {
        return switch (engine) {
            case MARIADB -> "jdbc:mariadb://" + host + ":" + port + "/" + db;
            case POSTGRESQL -> "jdbc:postgresql://" + host + ":" + port + "/" + db;
            case REDIS -> throw new IllegalStateException("Redis has no JDBC URL");
        };
    }

    public String jdbcUrl() {
        return jdbcUrl(database);
    }
}
