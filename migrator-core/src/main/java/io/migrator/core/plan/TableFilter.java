package io.migrator.core.plan;

import java.util.List;

/** Which tables a migration moves: those matching an include pattern and no exclude pattern. */
public record TableFilter(List<Glob> include, List<Glob> exclude) {
    public static final TableFilter ALL = new TableFilter(List.of(Glob.compile("*")), List.of());

    public TableFilter {
        include = List.copyOf(include);
        exclude = List.copyOf(exclude);
    }

    /** Redis keys: the whole key against each pattern (dots are not schema separators in keys). */
    public boolean includesKey(String key) {
        return include.stream().anyMatch(g -> g.regex().matcher(key).matches()) && exclude.stream().noneMatch(g -> g.regex().matcher(key).matches());
    }

    public boolean includesAll() {
        return exclude.isEmpty() && include.stream().anyMatch(g -> g.pattern().equals("*"));
    }

    public boolean includes(String schema, String table) {
        return include.stream().anyMatch(g -> g.matches(schema, table))
                && exclude.stream().noneMatch(g -> g.matches(schema, table));
    }
}
