package io.migrator.core.plan;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Turns a {@link YamlNode} tree into a {@link Plan}, collecting every problem instead of stopping at the
 * first. Only keys declared in {@link PlanSettings} are accepted.
 */
final class PlanBinder {
    private static final Pattern NAME = Pattern.compile("[a-z0-9_-]{1,63}");
    private static final String ENDPOINT = "source|target";

    private final String file;
    private final SecretResolver secrets;
    private final List<PlanProblem> problems;
    /** Keys a misspelling already points to: "unknown key 'hots' — did you mean 'host'?" is the one problem, not also "missing 'host'". */
    private final java.util.Map<YamlNode.Mapping, Set<String>> suggested = new java.util.IdentityHashMap<>();

    PlanBinder(String file, SecretResolver secrets, List<PlanProblem> problems) {
        this.file = file;
        this.secrets = secrets;
        this.problems = problems;
    }

    /** Returns the plan, or null when a problem was recorded. */
    Plan bind(YamlNode root) {
        if (!(root instanceof YamlNode.Mapping top)) {
            problem(root.mark(), "a plan must be a section of keys (name, source, target, ...), found "
                    + root.kindName(), "start from an example in plans/");
            return null;
        }
        int before = problems.size();
        rejectUnknownKeys(top, "", "the plan");

        String name = requiredString(top, PlanSettings.NAME.key(), "the plan").orElse(null);
        if (name != null && !NAME.matcher(name).matches()) {
            problem(valueMark(top, "name"), "name '" + name + "' may use only a-z, 0-9, '_' and '-' (1 to 63 characters)",
                    "rename it, e.g. '" + suggestName(name) + "'");
        }
        Endpoint source = endpoint(top, "source");
        Endpoint target = endpoint(top, "target");
        if (source != null && target != null) {
            crossCheck(top, source, target);
        }
        TableFilter tables = filter(top, "tables");
        TableFilter keys = filter(top, "keys");
        if (source != null && source.engine().isSql() && top.entries().containsKey("keys")) {
            problem(top.keyMarks().get("keys"), "'keys' applies to Redis sources only", "choose tables with 'tables:' on SQL engines");
        }
        Plan.Snapshot snapshot = snapshot(top);
        Plan.Cutover cutover = cutover(top);
        Plan.Control control = control(top);

        if (problems.size() > before || name == null || source == null || target == null || tables == null || keys == null
                || snapshot == null || cutover == null || control == null) {
            return null;
        }
        Plan.Validation validation = validation(top);
        if (validation == null) {
            return null;
        }
        return new Plan(file, name, source, target, tables, snapshot, cutover, control, validation, keys);
    }

    private Endpoint endpoint(YamlNode.Mapping top, String role) {
        YamlNode.Mapping section = section(top, role, true).orElse(null);
        if (section == null) {
            return null;
        }
        int before = problems.size();
        rejectUnknownKeys(section, ENDPOINT, role);
        Engine engine = null;
        Optional<String> engineText = requiredString(section, "engine", role);
        if (engineText.isPresent()) {
            engine = Engine.fromId(engineText.get()).orElse(null);
            if (engine == null) {
                problem(valueMark(section, "engine"), role + ".engine '" + engineText.get() + "' is not an engine migrator knows"
                        + Suggestions.didYouMean(engineText.get(), List.of("mysql", "mariadb", "postgresql", "redis", "postgres")
                        ).replace("'postgres'", "'postgresql'"), "use one of: " + Engine.ids());
            }
        }
        String host = requiredString(section, "host", role).orElse(null);
        if (host != null && (host.isBlank() || host.chars().anyMatch(Character::isWhitespace))) {
            problem(valueMark(section, "host"), role + ".host '" + host + "' is not a host name or address",
                    "write a host name or IP address, e.g. 127.0.0.1");
        }
        int port = integer(section, "port", role, 1, 65535).orElse(engine == null ? 1 : engine.defaultPort());
        boolean sql = engine == null || engine.isSql();
        String user = sql ? requiredString(section, "user", role).orElse("") : string(section, "user", role).orElse("");
        Secret password = string(section, "password", role).map(Secret::of).orElse(Secret.NONE);

        String database = "";
        List<Integer> databases = List.of();
        boolean cluster = false;
        if (engine != null && engine.isSql()) {
            database = requiredString(section, "database", role).orElse("");
            notFor(section, "databases", role, engine, "SQL engines name one database with 'database:'");
            notFor(section, "cluster", role, engine, "'cluster' applies to Redis targets only");
        } else if (engine == Engine.REDIS) {
            notFor(section, "database", role, engine, "Redis takes a list: 'databases: [0]'");
            databases = integerList(section, "databases", role, 0, 65535).orElse(List.of(0));
            cluster = bool(section, "cluster", role).orElse(false);
            if (cluster && role.equals("source")) {
                problem(valueMark(section, "cluster"), "a Redis Cluster source is not supported",
                        "migrate each source master with its own plan (cluster: false), or use a standalone source");
            }
        }
        if (problems.size() > before || engine == null || host == null) {
            return null;
        }
        return new Endpoint(engine, host, port, user, password, database, databases, cluster);
    }

    private void crossCheck(YamlNode.Mapping top, Endpoint source, Endpoint target) {
        YamlNode.Mapping targetSection = (YamlNode.Mapping) top.entries().get("target");
        if (source.engine().family() != target.engine().family()) {
            problem(valueMark(targetSection, "engine"), "target engine " + target.engine() + " cannot receive from source engine "
                    + source.engine(), "migrate within one family: mysql/mariadb to mysql/mariadb, postgresql to postgresql, redis to redis");
        } else if (source.sameDataAs(target)) {
            problem(targetSection.mark(), "source and target are the same server and database (" + target.address()
                    + (target.database().isEmpty() ? "" : "/" + target.database()) + ")",
                    "point the target at another server, port or database");
        }
        if (target.cluster() && source.databases().stream().anyMatch(db -> db != 0)) {
            YamlNode.Mapping sourceSection = (YamlNode.Mapping) top.entries().get("source");
            problem(valueMark(sourceSection, "databases"), "a Redis Cluster has only database 0, but the source lists "
                    + source.databases(), "migrate only database 0 into the cluster, or use a standalone target for the others");
        }
    }

    private TableFilter filter(YamlNode.Mapping top, String name) {
        Optional<YamlNode.Mapping> section = section(top, name, false);
        if (section.isEmpty()) {
            return top.entries().containsKey(name) ? null : TableFilter.ALL;
        }
        int before = problems.size();
        rejectUnknownKeys(section.get(), name, name);
        List<Glob> include = globs(section.get(), name, "include").orElse(List.of(Glob.compile("*")));
        List<Glob> exclude = globs(section.get(), name, "exclude").orElse(List.of());
        return problems.size() > before ? null : new TableFilter(include, exclude);
    }

    private Optional<List<Glob>> globs(YamlNode.Mapping section, String name, String key) {
        Optional<List<YamlNode>> items = list(section, key, name);
        if (items.isEmpty()) {
            return Optional.empty();
        }
        List<Glob> globs = new ArrayList<>();
        for (YamlNode item : items.get()) {
            Optional<String> text = scalarText(item, name + "." + key + " entry");
            if (text.isEmpty()) {
                continue;
            }
            try {
                globs.add(Glob.compile(text.get()));
            } catch (IllegalArgumentException e) {
                problem(item.mark(), name + "." + key + " pattern '" + text.get() + "' is not a valid glob: " + e.getMessage(),
                        "use * for any characters, ? for one, [abc] for a set; quote patterns that start with * or [");
            }
        }
        if (items.get().isEmpty() && key.equals("include")) {
            problem(section.entries().get(key).mark(), "tables.include is empty, so no table would move",
                    "list at least one pattern, e.g. [\"*\"]");
        }
        return Optional.of(globs);
    }

    private Plan.Validation validation(YamlNode.Mapping top) {
        Optional<YamlNode.Mapping> section = section(top, "validation", false);
        if (section.isEmpty()) {
            return top.entries().containsKey("validation") ? null : Plan.Validation.DEFAULT;
        }
        rejectUnknownKeys(section.get(), "validation", "validation");
        Duration every = Duration.ZERO;
        Optional<String> text = string(section.get(), "every", "validation");
        if (text.isPresent() && !text.get().equalsIgnoreCase("off")) {
            every = duration(section.get(), "every", "validation").orElse(Duration.ZERO);
            if (!every.isZero() && every.compareTo(Duration.ofMinutes(1)) < 0) {
                problem(valueMark(section.get(), "every"), "validation.every " + text.get() + " is shorter than a minute",
                        "validate at most once a minute (e.g. 30m), or write off");
            }
        }
        int chunkRows = integer(section.get(), "chunkRows", "validation", 100, 10_000_000).orElse(100_000);
        int parallelism = integer(section.get(), "parallelism", "validation", 1, 64).orElse(2);
        return new Plan.Validation(every, chunkRows, parallelism);
    }

    private Plan.Snapshot snapshot(YamlNode.Mapping top) {
        Optional<YamlNode.Mapping> section = section(top, "snapshot", false);
        if (section.isEmpty()) {
            return top.entries().containsKey("snapshot") ? null : new Plan.Snapshot(4, 50_000);
        }
        rejectUnknownKeys(section.get(), "snapshot", "snapshot");
        int parallelism = integer(section.get(), "parallelism", "snapshot", 1, 64).orElse(4);
        int chunkRows = integer(section.get(), "chunkRows", "snapshot", 100, 10_000_000).orElse(50_000);
        int maxRows = integer(section.get(), "maxRowsPerSecond", "snapshot", 0, Integer.MAX_VALUE).orElse(0);
        int maxThreads = integer(section.get(), "maxSourceThreadsRunning", "snapshot", 0, 100_000).orElse(0);
        boolean targetBinlog = bool(section.get(), "targetBinlog", "snapshot").orElse(true);
        return new Plan.Snapshot(parallelism, chunkRows, maxRows, maxThreads, targetBinlog);
    }

    private Plan.Cutover cutover(YamlNode.Mapping top) {
        Optional<YamlNode.Mapping> section = section(top, "cutover", false);
        if (section.isEmpty()) {
            return top.entries().containsKey("cutover") ? null : new Plan.Cutover(Duration.ofSeconds(30));
        }
        rejectUnknownKeys(section.get(), "cutover", "cutover");
        Duration maxDowntime = duration(section.get(), "maxDowntime", "cutover").orElse(Duration.ofSeconds(30));
        if (maxDowntime.isZero() || maxDowntime.isNegative()) {
            problem(valueMark(section.get(), "maxDowntime"), "cutover.maxDowntime must be longer than zero",
                    "give the write freeze a budget, e.g. 30s");
        }
        return new Plan.Cutover(maxDowntime);
    }

    private Plan.Control control(YamlNode.Mapping top) {
        Optional<YamlNode.Mapping> section = section(top, "control", false);
        if (section.isEmpty()) {
            return top.entries().containsKey("control") ? null : new Plan.Control("127.0.0.1", 9464);
        }
        rejectUnknownKeys(section.get(), "control", "control");
        Secret token = string(section.get(), "token", "control").map(Secret::of).orElse(Secret.NONE);
        Optional<String> listen = string(section.get(), "listen", "control");
        if (listen.isEmpty()) {
            return new Plan.Control("127.0.0.1", 9464, token);
        }
        try {
            Plan.Control control = parseListen(listen.get());
            if (!control.loopback() && token.isEmpty()) {
                problem(valueMark(section.get(), "listen"), "control.listen " + listen.get() + " is reachable from other hosts, "
                        + "and the control API can pause the migration", "set control.token: ${env:MIGRATOR_TOKEN} (clients send it as "
                        + "'Authorization: Bearer ...'), or listen on 127.0.0.1");
            }
            return new Plan.Control(control.listenHost(), control.listenPort(), token);
        } catch (IllegalArgumentException e) {
            problem(valueMark(section.get(), "listen"), "control.listen '" + listen.get() + "' " + e.getMessage(),
                    "write host:port, e.g. 127.0.0.1:9464");
            return null;
        }
    }

    public static Plan.Control parseListen(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("is not host:port");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("has a port that is not a number");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("has a port outside 0..65535 (0: any free port)");
        }
        return new Plan.Control(host, port);
    }

    // ---- typed readers: each records its own problem and returns empty ----

    private void rejectUnknownKeys(YamlNode.Mapping mapping, String section, String where) {
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

    private Optional<YamlNode.Mapping> section(YamlNode.Mapping parent, String key, boolean required) {
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

    private Optional<String> requiredString(YamlNode.Mapping section, String key, String where) {
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

    private Optional<String> string(YamlNode.Mapping section, String key, String where) {
        YamlNode node = section.entries().get(key);
        if (node == null || node instanceof YamlNode.Null) {
            return Optional.empty();
        }
        return scalarText(node, where + "." + key);
    }

    private Optional<String> scalarText(YamlNode node, String what) {
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

    private Optional<Integer> integer(YamlNode.Mapping section, String key, String where, int min, int max) {
        Optional<String> text = string(section, key, where);
        if (text.isEmpty()) {
            return Optional.empty();
        }
        try {
            int value = Integer.parseInt(text.get().trim().replace("_", ""));
            if (value < min || value > max) {
                problem(valueMark(section, key), where + "." + key + " " + value + " is outside " + min + ".." + max,
                        "choose a value from " + min + " to " + max);
                return Optional.empty();
            }
            return Optional.of(value);
        } catch (NumberFormatException e) {
            problem(valueMark(section, key), where + "." + key + " '" + text.get() + "' is not a whole number",
                    "write a number from " + min + " to " + max);
            return Optional.empty();
        }
    }

    private Optional<List<Integer>> integerList(YamlNode.Mapping section, String key, String where, int min, int max) {
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
                problem(item.mark(), where + "." + key + " entry '" + text.get() + "' is not a database number",
                        "list database numbers, e.g. [0, 1]");
            }
        }
        return Optional.of(values);
    }

    private Optional<Boolean> bool(YamlNode.Mapping section, String key, String where) {
        Optional<String> text = string(section, key, where);
        if (text.isEmpty()) {
            return Optional.empty();
        }
        return switch (text.get().trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "yes", "on" -> Optional.of(true);
            case "false", "no", "off" -> Optional.of(false);
            default -> {
                problem(valueMark(section, key), where + "." + key + " '" + text.get() + "' is not true or false",
                        "write true or false");
                yield Optional.empty();
            }
        };
    }

    private Optional<Duration> duration(YamlNode.Mapping section, String key, String where) {
        Optional<String> text = string(section, key, where);
        if (text.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Durations.parse(text.get()));
        } catch (IllegalArgumentException e) {
            problem(valueMark(section, key), where + "." + key + " '" + text.get() + "' is not a duration",
                    "write a number with a unit: 500ms, 30s, 5m, 2h");
            return Optional.empty();
        }
    }

    private Optional<List<YamlNode>> list(YamlNode.Mapping section, String key, String where) {
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

    private void notFor(YamlNode.Mapping section, String key, String where, Engine engine, String remedy) {
        Mark mark = section.keyMarks().get(key);
        if (mark != null) {
            problem(mark, "'" + key + "' does not apply to " + engine + " (" + where + ")", remedy);
        }
    }

    private static Mark valueMark(YamlNode.Mapping section, String key) {
        YamlNode node = section.entries().get(key);
        return node != null ? node.mark() : section.mark();
    }

    private static String suggestName(String name) {
        String cleaned = name.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9_-]+", "-").replaceAll("^-+|-+$", "");
        if (cleaned.isEmpty()) {
            cleaned = "migration";
        }
        return cleaned.length() > 63 ? cleaned.substring(0, 63) : cleaned;
    }

    private void problem(Mark mark, String message, String remedy) {
        problems.add(new PlanProblem(file, mark, message, remedy));
    }
}
