package io.migrator.core.plan;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The plan's typed readers: each reads one key of a YAML section as a string, number, flag, duration or list, resolving
 * {@code ${env:...}} and {@code ${file:...}} references, and on a bad value records its problem (with the value's line and
 * column and a remedy) and returns empty, so the binder goes on and reports every problem at once.
 */
final class PlanValues {
    private final String file;
    private final SecretResolver secrets;
    private final List<PlanProblem> problems;
    /** Keys a misspelling already points to: "unknown key 'hots' — did you mean 'host'?" is the one problem, not also "missing 'host'". */
    private final java.util.Map<YamlNode.Mapping, Set<String>> suggested = new java.util.IdentityHashMap<>();

    PlanValues(String file, SecretResolver secrets, List<PlanProblem> problems) {
        this.file = file;
        this.secrets = secrets;
        this.problems = problems;
    }

    void rejectUnknownKeys(YamlNode.Mapping mapping, String section, String where) {
        Set<String> known = PlanSettings.keysOf(section);
        for (var entry : mapping.keyMarks().entrySet()) {
            String key = entry.getKey();
            if (!known.contains(key)) {
                Suggestions.closest(key, known).ifPresent(s -> suggested.computeIfAbsent(mapping, m -> new java.util.HashSet<>()).add(s));
                problem(entry.getValue(), "unknown key '" + key + "' in " + where + Suggestions.didYouMean(key, known),
                        "allowed here: " + String.join(", ", known) + " (docs/plan.md)");
            }
        }
    }

    Optional<YamlNode.Mapping> section(YamlNode.Mapping parent, String key, boolean required) {
        YamlNode node = parent.entries().get(key);
        if (node == null) {
            if (required) {
                problem(parent.mark(), "missing section '" + key + "'", "add '" + key + ":' with engine, host, port, user, password and database");
            }
            return Optional.empty();
        }
        if (node instanceof YamlNode.Mapping mapping) {
            return Optional.of(mapping);
        }
        problem(node.mark(), "'" + key + "' must be a section of keys, found " + node.kindName(),
                "indent its keys under '" + key + ":'");
        return Optional.empty();
    }

    Optional<String> requiredString(YamlNode.Mapping section, String key, String where) {
        if (!section.entries().containsKey(key) || section.entries().get(key) instanceof YamlNode.Null) {
            if (suggested.getOrDefault(section, Set.of()).contains(key)) {
                return Optional.empty();
            }
            problem(section.entries().containsKey(key) ? section.entries().get(key).mark() : section.mark(),
                    "missing '" + key + "' in " + where, "add '" + key + ": ...' to " + where + " (docs/plan.md)");
            return Optional.empty();
        }
        return string(section, key, where);
    }

    Optional<String> string(YamlNode.Mapping section, String key, String where) {
        YamlNode node = section.entries().get(key);
        if (node == null || node instanceof YamlNode.Null) {
            return Optional.empty();
        }
        return scalarText(node, where + "." + key);
    }

    Optional<String> scalarText(YamlNode node, String what) {
        if (!(node instanceof YamlNode.Scalar scalar)) {
            problem(node.mark(), what + " must be a single value, found " + node.kindName(), "write it on one line after the colon");
            return Optional.empty();
        }
        try {
            return Optional.of(secrets.resolve(scalar.text()));
        } catch (SecretResolver.UnresolvedReference e) {
            problem(node.mark(), what + ": " + e.getMessage(), e.remedy());
            return Optional.empty();
        }
    }

    /**
     * How a value is shown in a problem: as the plan wrote it when it came from a reference ({@code ${env:...}},
     * {@code ${file:...}}), never resolved: {@code port: ${env:PW}} must not print the password.
     */
    static String shown(YamlNode node, String resolved) {
        return node instanceof YamlNode.Scalar scalar && scalar.text().contains("${") ? scalar.text() : resolved;
    }

    Optional<Integer> integer(YamlNode.Mapping section, String key, String where, int min, int max) {
        Optional<String> text = string(section, key, where);
        if (text.isEmpty()) {
            return Optional.empty();
        }
        try {
            int value = Integer.parseInt(text.get().trim().replace("_", ""));
            if (value < min || value > max) {
                problem(valueMark(section, key), where + "." + key + " " + shown(section.entries().get(key), Integer.toString(value))
                        + " is outside " + min + ".." + max,
                        "choose a value from " + min + " to " + max);
                return Optional.empty();
            }
            return Optional.of(value);
        } catch (NumberFormatException e) {
            problem(valueMark(section, key), where + "." + key + " '" + shown(section.entries().get(key), text.get()) + "' is not a whole number",
                    "write a number from " + min + " to " + max);
            return Optional.empty();
        }
    }

    Optional<List<Integer>> integerList(YamlNode.Mapping section, String key, String where, int min, int max) {
        Optional<List<YamlNode>> items = list(section, key, where);
        if (items.isEmpty()) {
            return Optional.empty();
        }
        List<Integer> values = new ArrayList<>();
        for (YamlNode item : items.get()) {
            Optional<String> text = scalarText(item, where + "." + key + " entry");
            if (text.isEmpty()) {
                continue;
            }
            try {
                int value = Integer.parseInt(text.get().trim());
                if (value < min || value > max) {
                    throw new NumberFormatException();
                }
                values.add(value);
            } catch (NumberFormatException e) {
                problem(item.mark(), where + "." + key + " entry '" + shown(item, text.get()) + "' is not a database number",
                        "list database numbers, e.g. [0, 1]");
            }
        }
        return Optional.of(values);
    }

    Optional<Boolean> bool(YamlNode.Mapping section, String key, String where) {
        Optional<String> text = string(section, key, where);
        if (text.isEmpty()) {
            return Optional.empty();
        }
        return switch (text.get().trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "yes", "on" -> Optional.of(true);
            case "false", "no", "off" -> Optional.of(false);
            default -> {
                problem(valueMark(section, key), where + "." + key + " '" + shown(section.entries().get(key), text.get()) + "' is not true or false",
                        "write true or false");
                yield Optional.empty();
            }
        };
    }

    Optional<Duration> duration(YamlNode.Mapping section, String key, String where) {
        Optional<String> text = string(section, key, where);
        if (text.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Durations.parse(text.get()));
        } catch (IllegalArgumentException e) {
            problem(valueMark(section, key), where + "." + key + " '" + shown(section.entries().get(key), text.get()) + "' is not a duration",
                    "write a number with a unit: 500ms, 30s, 5m, 2h");
            return Optional.empty();
        }
    }

    Optional<List<YamlNode>> list(YamlNode.Mapping section, String key, String where) {
        YamlNode node = section.entries().get(key);
        if (node == null || node instanceof YamlNode.Null) {
            return Optional.empty();
        }
        if (node instanceof YamlNode.Sequence sequence) {
            return Optional.of(sequence.items());
        }
        if (node instanceof YamlNode.Scalar scalar) {
            return Optional.of(List.of(scalar));
        }
        problem(node.mark(), where + "." + key + " must be a list, found " + node.kindName(), "write [a, b] or one '- item' per line");
        return Optional.empty();
    }

    void notFor(YamlNode.Mapping section, String key, String where, Engine engine, String remedy) {
        Mark mark = section.keyMarks().get(key);
        if (mark != null) {
            problem(mark, "'" + key + "' does not apply to " + engine + " (" + where + ")", remedy);
        }
    }

    static Mark valueMark(YamlNode.Mapping section, String key) {
        YamlNode node = section.entries().get(key);
        return node != null ? node.mark() : section.mark();
    }

    int problemCount() {
        return problems.size();
    }

    void problem(Mark mark, String message, String remedy) {
        problems.add(new PlanProblem(file, mark, message, remedy));
    }
}
