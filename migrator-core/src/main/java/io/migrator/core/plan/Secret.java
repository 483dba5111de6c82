package io.migrator.core.plan;

import java.util.Objects;

/**
 * A password or token. {@link #toString()} never shows it, so it cannot leak into logs, exception
 * messages or status documents by accident; {@link #reveal()} is the one way to the value.
 */
public final class Secret {
    public static final Secret NONE = new Secret("");

    private final String value;

    private Secret(String value) {
        this.value = value;
    }

    public static Secret of(String value) {
        return value == null || value.isEmpty() ? NONE : new Secret(value);
    }

    public String reveal() {
        return value;
    }

    public boolean isEmpty() {
        return value.isEmpty();
    }

    @Override
    public String toString() {
        return value.isEmpty() ? "(none)" : "******";
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Secret secret && secret.value.equals(value);
    }

    @Override
    public int hashCode() {
        return Objects.hash(value);
    }
}
