package io.migrator.core.plan;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Which tables a migration moves: those matching an include pattern and no exclude pattern. {@code keys}: the plan's
 * {@code tables.keys}, for a table without a primary key the columns of the unique NOT NULL index that carries its rows,
 * by table name ({@code orders}, or {@code schema.orders}), instead of the index the engine would choose.
 */
public record TableFilter(List<Glob> include, List<Glob> exclude, Map<String, List<String>> keys) {
    public static final TableFilter ALL = new TableFilter(List.of(Glob.compile("*")), List.of());

    public TableFilter {
        include = List.copyOf(include);
        exclude = List.copyOf(exclude);
        Map<String, List<String>> copy = new LinkedHashMap<>();
        (keys == null ? Map.<String, List<String>>of() : keys).forEach((table, columns) -> copy.put(table, List.copyOf(columns)));
        keys = java.util.Collections.unmodifiableMap(copy);
    }

    public TableFilter(List<Glob> include, List<Glob> exclude) {
        this(include, exclude, Map.of());
    }

    /** The plan's key columns for this table, by {@code schema.table} first, then by its bare name. */
    public Optional<List<String>> keyFor(String schema, String table) {
        List<String> named = keys.get(schema + "." + table);
        return Optional.ofNullable(named != null ? named : keys.get(table));
    }

    /** Whether a {@code tables.keys} entry names this table. */
    public static boolean names(String entry, String schema, String table) {
        return entry.equals(schema + "." + table) || entry.equals(table);
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
