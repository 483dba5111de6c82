package io.migrator.core.plan;

import java.util.regex.Pattern;

/**
 * A table-name pattern: {@code *} any run of characters, {@code ?} one character, {@code [abc]} or
 * {@code [a-z]} one of a set. A pattern with a dot matches {@code schema.table}; without one, the table
 * name alone. Matching is case-sensitive, as table names are on most servers.
 */
public record Glob(String pattern, Pattern regex) {
    public static Glob compile(String pattern) {
        if (pattern == null || pattern.isBlank()) {
            throw new IllegalArgumentException("an empty pattern matches nothing");
        }
        StringBuilder regex = new StringBuilder();
        for (int i = 0; i < pattern.length(); i++) {
            char c = pattern.charAt(i);
            switch (c) {
                case '*' -> regex.append(".*");
                case '?' -> regex.append('.');
                case '[' -> {
                    int close = pattern.indexOf(']', i + 2);
                    if (close < 0) {
                        throw new IllegalArgumentException("'[' at position " + (i + 1) + " is never closed with ']'");
                    }
                    String set = pattern.substring(i + 1, close);
                    regex.append('[');
                    if (set.startsWith("!")) {
                        regex.append('^');
                        set = set.substring(1);
                    }
                    regex.append(set.replace("\\", "\\\\").replace("[", "\\["));
                    regex.append(']');
                    i = close;
                }
                case ']' -> throw new IllegalArgumentException("']' at position " + (i + 1) + " has no opening '['");
                default -> regex.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return new Glob(pattern, Pattern.compile(regex.toString()));
    }

    public boolean qualified() {
        return pattern.contains(".");
    }

    public boolean matches(String schema, String table) {
        return regex.matcher(qualified() ? schema + "." + table : table).matches();
    }

    @Override
    public String toString() {
        return pattern;
    }
}
