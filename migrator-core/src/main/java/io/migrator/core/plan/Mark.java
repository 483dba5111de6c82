package io.migrator.core.plan;

/** A 1-based line and column in a plan file. */
public record Mark(int line, int column) {
    public static final Mark UNKNOWN = new Mark(0, 0);

    @Override
    public String toString() {
        return line + ":" + column;
    }
}
