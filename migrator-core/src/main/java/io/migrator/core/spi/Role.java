package io.migrator.core.spi;

/** Which side of a migration an endpoint plays. */
public enum Role {
    SOURCE, TARGET;

    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
