package io.migrator.core.plan;

/**
 * The declaration of one plan key: where it sits, what it takes, its default and what it does.
 * docs/plan.md's reference table is generated from these ({@link PlanSettings#referenceTable()}).
 */
public record Setting(String path, String type, String defaultValue, String doc) {
    /** The key as written in YAML, the last segment of {@link #path()}. */
    public String key() {
        int dot = path.lastIndexOf('.');
        return dot < 0 ? path : path.substring(dot + 1);
    }

    /** The section the key belongs to ("" for the top level). */
    public String section() {
        int dot = path.lastIndexOf('.');
        return dot < 0 ? "" : path.substring(0, dot);
    }
}
