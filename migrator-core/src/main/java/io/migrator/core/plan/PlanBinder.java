package io.migrator.core.plan;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Turns a {@link YamlNode} tree into a {@link Plan}, collecting every problem instead of stopping at the
 * first. Only keys declared in {@link PlanSettings} are accepted.
 */
final class PlanBinder {
    private static final Pattern NAME = Pattern.compile("[a-z0-9_-]{1,63}");
    private static final String ENDPOINT = "source|target";

    private final String file;
    private final java.nio.file.Path baseDir;
    private final List<PlanProblem> problems;
    private final PlanValues read;

    PlanBinder(String file, SecretResolver secrets, List<PlanProblem> problems) {
        this.file = file;
        this.baseDir = secrets.baseDir();
        this.problems = problems;
        this.read = new PlanValues(file, secrets, problems);
    }

    /** Returns the plan, or null when a problem was recorded. */
    Plan bind(YamlNode root) {
        if (!(root instanceof YamlNode.Mapping top)) {
            read.problem(root.mark(), "a plan must be a section of keys (name, source, target, ...), found "
                    + root.kindName(), "start from an example in plans/");
            return null;
        }
        int before = problems.size();
        read.rejectUnknownKeys(top, "", "the plan");

        String name = read.requiredString(top, PlanSettings.NAME.key(), "the plan").orElse(null);
        if (name != null && !NAME.matcher(name).matches()) {
            String shown = PlanValues.shown(top.entries().get("name"), name);
            read.problem(PlanValues.valueMark(top, "name"), "name '" + shown + "' may use only a-z, 0-9, '_' and '-' (1 to 63 characters)",
                    shown.equals(name) ? "rename it, e.g. '" + suggestName(name) + "'" : "rename it");
        }
        Endpoint source = endpoint(top, "source");
        Endpoint target = endpoint(top, "target");
        if (source != null && target != null) {
            crossCheck(top, source, target);
        }
        TableFilter tables = filter(top, "tables");
        TableFilter keys = filter(top, "keys");
        if (source != null && source.engine().isSql() && top.entries().containsKey("keys")) {
            read.problem(top.keyMarks().get("keys"), "'keys' applies to Redis sources only", "choose tables with 'tables:' on SQL engines");
        }
        if (source != null && source.engine() == Engine.REDIS && top.entries().containsKey("tables")) {
            // accepted silently, it would move every key: a Redis plan has no tables
            read.problem(top.keyMarks().get("tables"), "'tables' applies to SQL sources only; this plan would move every key",
                    "choose keys with 'keys: {include: [\"session:*\"], exclude: [...]}' and databases with source.databases");
        }
        Plan.Snapshot snapshot = snapshot(top);
        Plan.Cutover cutover = new CutoverBinder(read).bind(top, source, target);
        Plan.Control control = control(top);

        if (problems.size() > before || name == null || source == null || target == null || tables == null || keys == null
                || snapshot == null || cutover == null || control == null) {
            return null;
        }
        Plan.Validation validation = validation(top);
        Plan.Network network = network(top);
        if (validation == null || network == null) {
            return null;
        }
        return new Plan(file, name, source.withReadTimeout(network.readTimeout()), target.withReadTimeout(network.readTimeout()), tables,
                snapshot, cutover, control, validation, keys, network);
    }

    private Endpoint endpoint(YamlNode.Mapping top, String role) {
        YamlNode.Mapping section = read.section(top, role, true).orElse(null);
        if (section == null) {
            return null;
        }
        int before = problems.size();
        read.rejectUnknownKeys(section, ENDPOINT, role);
        Engine engine = null;
        Optional<String> engineText = read.requiredString(section, "engine", role);
        if (engineText.isPresent()) {
            engine = Engine.fromId(engineText.get()).orElse(null);
            if (engine == null) {
                String shown = PlanValues.shown(section.entries().get("engine"), engineText.get());
                read.problem(PlanValues.valueMark(section, "engine"), role + ".engine '" + shown + "' is not an engine migrator knows"
                        + (shown.equals(engineText.get()) ? Suggestions.didYouMean(engineText.get(), List.of("mysql", "mariadb", "postgresql",
                        "redis", "postgres")).replace("'postgres'", "'postgresql'") : ""), "use one of: " + Engine.ids());
            }
        }
        String host = read.requiredString(section, "host", role).orElse(null);
        if (host != null && host.matches("(?i)^[a-z][a-z0-9+.-]*://.*")) {
            read.problem(PlanValues.valueMark(section, "host"), role + ".host is a URL ('"
                            + PlanValues.shown(section.entries().get("host"), host.replaceAll("(?<=://)[^@/]*@", "…@")) + "'), not a host name",
                    "write the parts under their own keys: host (name or address only), port, user, password, database");
        } else if (host != null && (host.isBlank() || host.chars().anyMatch(Character::isWhitespace))) {
            read.problem(PlanValues.valueMark(section, "host"), role + ".host '" + PlanValues.shown(section.entries().get("host"), host)
                            + "' is not a host name or address",
                    "write a host name or IP address, e.g. 127.0.0.1");
        }
        int port = read.integer(section, "port", role, 1, 65535).orElse(engine == null ? 1 : engine.defaultPort());
        boolean sql = engine == null || engine.isSql();
        String user = sql ? read.requiredString(section, "user", role).orElse("") : read.string(section, "user", role).orElse("");
        Secret password = read.string(section, "password", role).map(Secret::of).orElse(Secret.NONE);

        String database = "";
        List<Integer> databases = List.of();
        boolean cluster = false;
        if (engine != null && engine.isSql()) {
            database = read.requiredString(section, "database", role).orElse("");
            read.notFor(section, "databases", role, engine, "SQL engines name one database with 'database:'");
            read.notFor(section, "cluster", role, engine, "'cluster' applies to Redis targets only");
        } else if (engine == Engine.REDIS) {
            read.notFor(section, "database", role, engine, "Redis takes a list: 'databases: [0]'");
            databases = read.integerList(section, "databases", role, 0, 65535).orElse(List.of(0));
            cluster = read.bool(section, "cluster", role).orElse(false);
            if (cluster && role.equals("source")) {
                read.problem(PlanValues.valueMark(section, "cluster"), "a Redis Cluster source is not supported",
                        "migrate each source master with its own plan (cluster: false), or use a standalone source");
            }
        }
        Tls tls = engine == null ? null : tls(section, role, engine);
        if (problems.size() > before || engine == null || host == null) {
            return null;
        }
        return new Endpoint(engine, host, port, user, password, database, databases, cluster, null, tls);
    }

    /** {@code tls: MODE} or {@code tls: {mode, ca, cert, key, allowPublicKeyRetrieval}}; files must exist and be readable. */
    private Tls tls(YamlNode.Mapping section, String role, Engine engine) {
        YamlNode node = section.entries().get("tls");
        if (node == null || node instanceof YamlNode.Null) {
            return Tls.defaultFor(engine);
        }
        String where = role + ".tls";
        Optional<String> modeText;
        String ca = null;
        String cert = null;
        String key = null;
        boolean publicKey = false;
        Mark modeMark;
        if (node instanceof YamlNode.Mapping tls) {
            read.rejectUnknownKeys(tls, ENDPOINT + ".tls", where);
            modeText = read.string(tls, "mode", where);
            modeMark = PlanValues.valueMark(tls, "mode");
            ca = file(tls, "ca", where);
            cert = file(tls, "cert", where);
            key = file(tls, "key", where);
            publicKey = read.bool(tls, "allowPublicKeyRetrieval", where).orElse(false);
            if (publicKey && engine != Engine.MYSQL) {
                read.problem(PlanValues.valueMark(tls, "allowPublicKeyRetrieval"), where + ".allowPublicKeyRetrieval applies to MySQL only",
                        "remove it: " + engine + " logins do not use it");
            }
            if (tls.entries().containsKey("cert") != tls.entries().containsKey("key")) {
                read.problem(tls.mark(), where + " has a client " + (tls.entries().containsKey("key") ? "key without its certificate"
                                : "certificate without its key"),
                        "set both " + where + ".cert and " + where + ".key, or neither");
            }
        } else {
            modeText = read.scalarText(node, where);
            modeMark = node.mark();
        }
        Tls.Mode mode = null;
        if (modeText.isPresent()) {
            mode = Tls.Mode.fromId(modeText.get()).orElse(null);
            if (mode == null) {
                read.problem(modeMark, where + " mode '" + PlanValues.shown(node instanceof YamlNode.Mapping m ? m.entries().get("mode") : node,
                        modeText.get()) + "' is not a TLS mode", "use one of: " + Tls.Mode.ids());
                return null;
            }
        } else if (node instanceof YamlNode.Mapping) {
            mode = ca != null ? Tls.Mode.VERIFY_FULL : Tls.Mode.REQUIRE;
        } else {
            return null;
        }
        if (mode == Tls.Mode.PREFER && engine != Engine.MYSQL && engine != Engine.POSTGRESQL) {
            read.problem(modeMark, where + " mode 'prefer' is not possible for " + engine
                            + (engine == Engine.REDIS ? " (a Redis server takes TLS on its own port, there is nothing to fall back from)"
                            : " (its driver cannot fall back to plain text)"),
                    "use require or verify-full when the server speaks TLS, disable when it does not");
        }
        if (mode == Tls.Mode.DISABLE && (ca != null || cert != null)) {
            read.problem(modeMark, where + " names certificate files but its mode is disable",
                    "set the mode to verify-full (or remove the files)");
        }
        if (mode.compareTo(Tls.Mode.REQUIRE) <= 0 && ca != null && mode != Tls.Mode.DISABLE) {
            read.problem(modeMark, where + ".ca is set but mode " + mode.id() + " does not check the server's certificate",
                    "use verify-full (or verify-ca) so the CA is used, or remove ca");
        }
        return new Tls(mode, ca, cert, key, publicKey);
    }

    /** A TLS file: relative to the plan's folder, and readable now (a missing file is a plan error, not a handshake failure). */
    private String file(YamlNode.Mapping tls, String key, String where) {
        Optional<String> text = read.string(tls, key, where);
        if (text.isEmpty()) {
            return null;
        }
        java.nio.file.Path path = (baseDir == null ? java.nio.file.Path.of("") : baseDir).toAbsolutePath().resolve(text.get());
        if (!java.nio.file.Files.isRegularFile(path) || !java.nio.file.Files.isReadable(path)) {
            read.problem(PlanValues.valueMark(tls, key), where + "." + key + " '" + PlanValues.shown(tls.entries().get(key), text.get())
                            + "' is not a readable file" + (java.nio.file.Files.exists(path) ? "" : " (" + path + " does not exist)"),
                    "point it at the PEM file" + (key.equals("ca") ? " of the certificate authorities (RDS: the region's bundle)" : "")
                            + "; relative paths start at the plan's folder");
            return null;
        }
        return path.normalize().toString();
    }

    private void crossCheck(YamlNode.Mapping top, Endpoint source, Endpoint target) {
        YamlNode.Mapping targetSection = (YamlNode.Mapping) top.entries().get("target");
        if (source.engine().family() != target.engine().family()) {
            read.problem(PlanValues.valueMark(targetSection, "engine"), "target engine " + target.engine() + " cannot receive from source engine "
                    + source.engine(), "migrate within one family: mysql/mariadb to mysql/mariadb, postgresql to postgresql, redis to redis");
        } else if (source.sameDataAs(target)) {
            read.problem(targetSection.mark(), "source and target are the same server and database (" + target.address()
                    + (target.database().isEmpty() ? "" : "/" + target.database()) + ")",
                    "point the target at another server, port or database");
        }
        if (target.cluster() && source.databases().stream().anyMatch(db -> db != 0)) {
            YamlNode.Mapping sourceSection = (YamlNode.Mapping) top.entries().get("source");
            read.problem(PlanValues.valueMark(sourceSection, "databases"), "a Redis Cluster has only database 0, but the source lists "
                    + source.databases(), "migrate only database 0 into the cluster, or use a standalone target for the others");
        }
    }

    private TableFilter filter(YamlNode.Mapping top, String name) {
        Optional<YamlNode.Mapping> section = read.section(top, name, false);
        if (section.isEmpty()) {
            return top.entries().containsKey(name) ? null : TableFilter.ALL;
        }
        int before = problems.size();
        read.rejectUnknownKeys(section.get(), name, name);
        List<Glob> include = globs(section.get(), name, "include").orElse(List.of(Glob.compile("*")));
        List<Glob> exclude = globs(section.get(), name, "exclude").orElse(List.of());
        java.util.Map<String, List<String>> keys = name.equals("tables") ? tableKeys(section.get()) : java.util.Map.of();
        return problems.size() > before ? null : new TableFilter(include, exclude, keys);
    }

    /** {@code tables.keys}: table name to the columns of the unique NOT NULL index that carries its rows. */
    private java.util.Map<String, List<String>> tableKeys(YamlNode.Mapping tables) {
        java.util.Map<String, List<String>> keys = new java.util.LinkedHashMap<>();
        Optional<YamlNode.Mapping> section = tables.entries().containsKey("keys") ? read.section(tables, "keys", false) : Optional.empty();
        if (section.isEmpty()) {
            return keys;
        }
        for (var entry : section.get().entries().entrySet()) {
            Optional<List<YamlNode>> items = read.list(section.get(), entry.getKey(), "tables.keys");
            List<String> columns = new ArrayList<>();
            List<String> shown = new ArrayList<>(); // as written: a ${env:...} entry is never printed resolved
            for (YamlNode item : items.orElse(List.of())) {
                read.scalarText(item, "tables.keys." + entry.getKey() + " entry").ifPresent(c -> {
                    columns.add(c);
                    shown.add(PlanValues.shown(item, c));
                });
            }
            if (columns.isEmpty()) {
                read.problem(section.get().keyMarks().get(entry.getKey()), "tables.keys." + entry.getKey() + " names no column",
                        "list the columns of a unique index over NOT NULL columns, e.g. " + entry.getKey() + ": [region, code]");
            } else if (new java.util.HashSet<>(columns).size() < columns.size()) {
                read.problem(section.get().keyMarks().get(entry.getKey()), "tables.keys." + entry.getKey() + " names a column twice: "
                        + shown, "list each column of the unique index once");
            } else {
                keys.put(entry.getKey(), columns);
            }
        }
        return keys;
    }

    private Optional<List<Glob>> globs(YamlNode.Mapping section, String name, String key) {
        Optional<List<YamlNode>> items = read.list(section, key, name);
        if (items.isEmpty()) {
            return Optional.empty();
        }
        List<Glob> globs = new ArrayList<>();
        for (YamlNode item : items.get()) {
            Optional<String> text = read.scalarText(item, name + "." + key + " entry");
            if (text.isEmpty()) {
                continue;
            }
            try {
                globs.add(Glob.compile(text.get()));
            } catch (IllegalArgumentException e) {
                String shown = PlanValues.shown(item, text.get());
                read.problem(item.mark(), name + "." + key + " pattern '" + shown + "' is not a valid glob"
                        + (shown.equals(text.get()) ? ": " + e.getMessage() : ""),
                        "use * for any characters, ? for one, [abc] for a set; quote patterns that start with * or [");
            }
        }
        if (items.get().isEmpty() && key.equals("include")) {
            read.problem(section.entries().get(key).mark(), "tables.include is empty, so no table would move",
                    "list at least one pattern, e.g. [\"*\"]");
        }
        return Optional.of(globs);
    }

    private Plan.Network network(YamlNode.Mapping top) {
        Optional<YamlNode.Mapping> section = read.section(top, "network", false);
        if (section.isEmpty()) {
            return top.entries().containsKey("network") ? null : Plan.Network.DEFAULT;
        }
        read.rejectUnknownKeys(section.get(), "network", "network");
        int before = problems.size();
        Duration readTimeout = atLeast(section.get(), "readTimeout", Duration.ofSeconds(1), Plan.Network.DEFAULT.readTimeout());
        Duration stall = atLeast(section.get(), "stallTimeout", Duration.ofSeconds(5), Plan.Network.DEFAULT.stallTimeout());
        Duration outage = atLeast(section.get(), "maxOutage", Duration.ofSeconds(1), Plan.Network.DEFAULT.maxOutage());
        return problems.size() > before ? null : new Plan.Network(readTimeout, stall, outage);
    }

    private Duration atLeast(YamlNode.Mapping section, String key, Duration min, Duration otherwise) {
        Duration value = read.duration(section, key, "network").orElse(otherwise);
        if (value.compareTo(min) < 0) {
            read.problem(PlanValues.valueMark(section, key), "network." + key + " must be at least " + min.toMillis() / 1000 + " s",
                    "a duration like 30s, 5m or 1h (docs/plan.md)");
        }
        return value;
    }

    private Plan.Validation validation(YamlNode.Mapping top) {
        Optional<YamlNode.Mapping> section = read.section(top, "validation", false);
        if (section.isEmpty()) {
            return top.entries().containsKey("validation") ? null : Plan.Validation.DEFAULT;
        }
        read.rejectUnknownKeys(section.get(), "validation", "validation");
        Duration every = Duration.ZERO;
        Optional<String> text = read.string(section.get(), "every", "validation");
        if (text.isPresent() && !text.get().equalsIgnoreCase("off")) {
            every = read.duration(section.get(), "every", "validation").orElse(Duration.ZERO);
            if (!every.isZero() && every.compareTo(Duration.ofMinutes(1)) < 0) {
                read.problem(PlanValues.valueMark(section.get(), "every"), "validation.every "
                        + PlanValues.shown(section.get().entries().get("every"), text.get()) + " is shorter than a minute",
                        "validate at most once a minute (e.g. 30m), or write off");
            }
        }
        int chunkRows = read.integer(section.get(), "chunkRows", "validation", 100, 10_000_000).orElse(100_000);
        int parallelism = read.integer(section.get(), "parallelism", "validation", 1, 64).orElse(2);
        return new Plan.Validation(every, chunkRows, parallelism);
    }

    private Plan.Snapshot snapshot(YamlNode.Mapping top) {
        Optional<YamlNode.Mapping> section = read.section(top, "snapshot", false);
        if (section.isEmpty()) {
            return top.entries().containsKey("snapshot") ? null : new Plan.Snapshot(4, 50_000);
        }
        read.rejectUnknownKeys(section.get(), "snapshot", "snapshot");
        int parallelism = read.integer(section.get(), "parallelism", "snapshot", 1, 64).orElse(4);
        int chunkRows = read.integer(section.get(), "chunkRows", "snapshot", 100, 10_000_000).orElse(50_000);
        int maxRows = read.integer(section.get(), "maxRowsPerSecond", "snapshot", 0, Integer.MAX_VALUE).orElse(0);
        int maxThreads = read.integer(section.get(), "maxSourceThreadsRunning", "snapshot", 0, 100_000).orElse(0);
        boolean targetBinlog = read.bool(section.get(), "targetBinlog", "snapshot").orElse(true);
        return new Plan.Snapshot(parallelism, chunkRows, maxRows, maxThreads, targetBinlog);
    }

    private Plan.Control control(YamlNode.Mapping top) {
        Optional<YamlNode.Mapping> section = read.section(top, "control", false);
        if (section.isEmpty()) {
            return top.entries().containsKey("control") ? null : new Plan.Control("127.0.0.1", 9464);
        }
        read.rejectUnknownKeys(section.get(), "control", "control");
        Secret token = read.string(section.get(), "token", "control").map(Secret::of).orElse(Secret.NONE);
        Optional<String> listen = read.string(section.get(), "listen", "control");
        if (listen.isEmpty()) {
            return new Plan.Control("127.0.0.1", 9464, token);
        }
        try {
            Plan.Control control = parseListen(listen.get());
            if (!control.loopback() && token.isEmpty()) {
                read.problem(PlanValues.valueMark(section.get(), "listen"), "control.listen "
                        + PlanValues.shown(section.get().entries().get("listen"), listen.get()) + " is reachable from other hosts, "
                        + "and the control API can pause the migration", "set control.token: ${env:MIGRATOR_TOKEN} (clients send it as "
                        + "'Authorization: Bearer ...'), or listen on 127.0.0.1");
            }
            return new Plan.Control(control.listenHost(), control.listenPort(), token);
        } catch (IllegalArgumentException e) {
            read.problem(PlanValues.valueMark(section.get(), "listen"), "control.listen '"
                    + PlanValues.shown(section.get().entries().get("listen"), listen.get()) + "' " + e.getMessage(),
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

    private static String suggestName(String name) {
        String cleaned = name.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9_-]+", "-").replaceAll("^-+|-+$", "");
        if (cleaned.isEmpty()) {
            cleaned = "migration";
        }
        return cleaned.length() > 63 ? cleaned.substring(0, 63) : cleaned;
    }
}
