package io.migrator.core.plan;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/** The database engines migrator moves between. */
public enum Engine {
    MYSQL("mysql", 3306, Family.MYSQL),
    MARIADB("mariadb", 3306, Family.MYSQL),
    POSTGRESQL("postgresql", 5432, Family.POSTGRESQL),
    REDIS("redis", 6379, Family.REDIS);

    /** Engines of one family can be source and target of one migration. */
    public enum Family { MYSQL, POSTGRESQL, REDIS }

    private final String id;
    private final int defaultPort;
    private final Family family;

    Engine(String id, int defaultPort, Family family) {
        this.id = id;
        this.defaultPort = defaultPort;
        this.family = family;
    }

    public String id() {
        return id;
    }

    public int defaultPort() {
        return defaultPort;
    }

    public Family family() {
        return family;
    }

    public boolean isSql() {
        return family != Family.REDIS;
    }

    public static Optional<Engine> fromId(String id) {
        String wanted = id.trim().toLowerCase(Locale.ROOT);
        return Arrays.stream(values()).filter(e -> e.id.equals(wanted)).findFirst();
    }

    public static String ids() {
        return Arrays.stream(values()).map(Engine::id).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return id;
    }
}
