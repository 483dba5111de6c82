package io.migrator.sandbox;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/** The engine families the sandbox can start; each brings a source and a target (Redis also a 3-node cluster). */
public enum SandboxEngine {
    MARIADB("mariadb"), POSTGRESQL("postgresql"), REDIS("redis");

    private final String id;

    SandboxEngine(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public static Optional<SandboxEngine> fromId(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("postgres")) {
            t = "postgresql";
        }
        String wanted = t;
        return Arrays.stream(values()).filter(e -> e.id.equals(wanted)).findFirst();
    }

    @Override
    public String toString() {
        return id;
    }
}
