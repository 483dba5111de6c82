package io.migrator.core.plan;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Binds the plan's {@code cutover} section: the budget, the lag limit, the freeze method the source's engine offers, and
 * the switch steps, each checked where it is written (line and column) with a remedy.
 */
final class CutoverBinder {
    static final Duration DEFAULT_MAX_DOWNTIME = Duration.ofSeconds(5);
    static final Duration DEFAULT_VALIDATED_WITHIN = Duration.ofHours(24);
    static final Duration DEFAULT_MAX_LAG = Duration.ofSeconds(1);
    /** The freeze methods of each engine family; the first is the default. */
    static final Map<Engine.Family, List<String>> FREEZES = Map.of(
            Engine.Family.MYSQL, List.of("lock-tables", "read-only", "command"),
            Engine.Family.POSTGRESQL, List.of("revoke", "pgbouncer", "command"),
            Engine.Family.REDIS, List.of("client-pause", "command"));
    private static final Pattern HOST_PORT = Pattern.compile("[^\\s:]+:\\d{1,5}");
    /** A login: a MySQL user@host (host may be %) or a PostgreSQL role; no quotes, spaces or semicolons. */
    private static final Pattern USER = Pattern.compile("[A-Za-z0-9_$.-]+(@[A-Za-z0-9_%.:-]+)?");
    private static final Set<String> METHODS = Set.of("POST", "PUT", "GET", "PATCH");

    private final PlanValues read;

    CutoverBinder(PlanValues read) {
        this.read = read;
    }

    /** The section bound, or null when a problem was recorded; {@code source} is null when the source itself was invalid. */
    Plan.Cutover bind(YamlNode.Mapping top, Endpoint source, Endpoint target) {
        String cache = rollbackCache(top, source, target);
        Optional<YamlNode.Mapping> found = read.section(top, "cutover", false);
        if (found.isEmpty()) {
            Plan.Cutover defaults = top.entries().containsKey("cutover") ? null : defaults(source);
            return defaults == null || cache == null ? null : new Plan.Cutover(defaults.maxDowntime(), defaults.maxLag(), defaults.freeze(),
                    defaults.freezeCommand(), defaults.unfreezeCommand(), defaults.switchSteps(), defaults.applicationUsers(),
                    defaults.validatedWithin(), defaults.reverse(), cache);
        }
        YamlNode.Mapping section = found.get();
        read.rejectUnknownKeys(section, "cutover", "cutover");
        boolean ok = true;
        Duration maxDowntime = read.duration(section, "maxDowntime", "cutover").orElse(DEFAULT_MAX_DOWNTIME);
        if (maxDowntime.isZero() || maxDowntime.isNegative()) {
            read.problem(PlanValues.valueMark(section, "maxDowntime"), "cutover.maxDowntime must be longer than zero",
                    "give the write freeze a budget, e.g. 30s");
            ok = false;
        }
        Duration maxLag = read.duration(section, "maxLag", "cutover").orElse(DEFAULT_MAX_LAG);
        if (maxLag.isZero() || maxLag.isNegative()) {
            read.problem(PlanValues.valueMark(section, "maxLag"), "cutover.maxLag must be longer than zero",
                    "the cutover starts only when the stream is this close to the source, e.g. 1s");
            ok = false;
        }
        String freeze = freeze(section, source);
        List<String> freezeCommand = argv(section, "freezeCommand");
        List<String> unfreezeCommand = argv(section, "unfreezeCommand");
        if ("command".equals(freeze) && (freezeCommand.isEmpty() || unfreezeCommand.isEmpty())) {
            read.problem(PlanValues.valueMark(section, "freeze"), "cutover.freeze: command needs cutover.freezeCommand and "
                    + "cutover.unfreezeCommand", "list both programs with their arguments, e.g. freezeCommand: [\"./freeze.sh\", \"orders\"]");
            ok = false;
        } else if (!"command".equals(freeze) && freeze != null && (!freezeCommand.isEmpty() || !unfreezeCommand.isEmpty())) {
            read.problem(section.mark(), "cutover.freezeCommand and unfreezeCommand apply only to freeze: command (this plan freezes with "
                    + freeze + ")", "remove them, or set freeze: command");
            ok = false;
        }
        List<SwitchStep> steps = switchSteps(section);
        if (steps != null && source != null) {
            boolean pgbouncer = steps.stream().anyMatch(s -> s instanceof SwitchStep.Pgbouncer);
            if (pgbouncer && source.engine().family() != Engine.Family.POSTGRESQL) {
                read.problem(PlanValues.valueMark(section, "switch"), "a cutover.switch pgbouncer step repoints a PostgreSQL database; this "
                        + "plan's source is " + source.engine(), "use a haproxy, command or http step");
                ok = false;
            }
            if ("pgbouncer".equals(freeze) && !pgbouncer) {
                read.problem(PlanValues.valueMark(section, "freeze"), "cutover.freeze: pgbouncer pauses the database of the plan's "
                        + "pgbouncer switch step, and cutover.switch has none", "add '- pgbouncer: {admin: HOST:PORT, database: NAME}' to "
                        + "cutover.switch (the pgbouncer the application connects through)");
                ok = false;
            }
        }
        List<String> users = argv(section, "applicationUsers");
        List<YamlNode> userNodes = read.list(section, "applicationUsers", "cutover").orElse(List.of());
        for (int i = 0; i < users.size(); i++) {
            String user = users.get(i);
            if (!USER.matcher(user).matches()) {
                String shown = users.size() == userNodes.size() ? PlanValues.shown(userNodes.get(i), user) : "(entry " + (i + 1) + ")";
                read.problem(PlanValues.valueMark(section, "applicationUsers"), "cutover.applicationUsers entry '" + shown
                        + "' is not a login name" + (source != null && source.engine().family() == Engine.Family.MYSQL ? " (user@host)" : ""),
                        source != null && source.engine().family() == Engine.Family.MYSQL ? "write each as user@host, e.g. app@'%' as app@%"
                                : "write each role's name, e.g. app");
                ok = false;
            }
        }
        Duration validatedWithin = read.duration(section, "validatedWithin", "cutover").orElse(DEFAULT_VALIDATED_WITHIN);
        if (validatedWithin.isZero() || validatedWithin.isNegative()) {
            read.problem(PlanValues.valueMark(section, "validatedWithin"), "cutover.validatedWithin must be longer than zero",
                    "how recent the last clean validation must be, e.g. 24h");
            ok = false;
        }
        boolean rows = source != null && source.engine().family() != Engine.Family.REDIS;
        // Redis: reverse replication needs a lasting freeze of the old source (ACL users): without one it takes writes again
        boolean cluster = target != null && target.cluster();
        // a rollback policy says the target cannot be read back (no PSYNC): no reverse replication then
        boolean policy = cache != null && !cache.isEmpty();
        boolean reverse = read.bool(section, "reverse", "cutover").orElse(rows || !cluster && !policy && users != null && !users.isEmpty());
        if (reverse && policy) {
            read.problem(PlanValues.valueMark(section, "reverse"), "rollback.cache says the target cannot be read back (no reverse "
                    + "replication), and cutover.reverse asks for it", "choose one: rollback.cache for a target that refuses PSYNC "
                    + "(ElastiCache), cutover.reverse for one that allows it");
            ok = false;
        }
        if (reverse && !rows && cluster) {
            read.problem(PlanValues.valueMark(section, "reverse"), "reverse replication from a Redis Cluster target is not in this build "
                    + "(it reads one server's replication stream)", "leave cutover.reverse out (false for a cluster target)");
            ok = false;
        }
        if (reverse && !rows && source != null && (users == null || users.isEmpty())) {
            read.problem(PlanValues.valueMark(section, "reverse"), "reverse replication after a Redis cutover needs cutover.applicationUsers: "
                    + "without ACL users to take the writes from, the old source takes the application's writes again when the pause "
                    + "lapses, and the reverse stream would mix with them", "name the application's ACL users in cutover.applicationUsers, "
                    + "or leave cutover.reverse out");
            ok = false;
        }
        if (!ok || freeze == null || steps == null || cache == null) {
            return null;
        }
        return new Plan.Cutover(maxDowntime, maxLag, freeze, freezeCommand, unfreezeCommand, steps, users, validatedWithin, reverse, cache);
    }

    /** The top-level {@code rollback.cache} policy ("" when none), or null when a problem was recorded. */
    private String rollbackCache(YamlNode.Mapping top, Endpoint source, Endpoint target) {
        Optional<YamlNode.Mapping> found = read.section(top, "rollback", false);
        if (found.isEmpty()) {
            return top.entries().containsKey("rollback") ? null : "";
        }
        YamlNode.Mapping section = found.get();
        read.rejectUnknownKeys(section, "rollback", "rollback");
        Optional<String> written = read.string(section, "cache", "rollback");
        if (written.isEmpty()) {
            return section.entries().containsKey("cache") ? null : "";
        }
        String cache = written.get().trim();
        if (source != null && source.engine().family() != Engine.Family.REDIS) {
            read.problem(PlanValues.valueMark(section, "cache"), "rollback.cache applies to Redis plans: a " + source.engine() + " rollback "
                    + "carries the new server's rows back by reverse replication", "remove the rollback section");
            return null;
        }
        if (target != null && target.cluster()) {
            read.problem(PlanValues.valueMark(section, "cache"), "rollback.cache with a Redis Cluster target is not in this build: the "
                    + "rollback's freeze and lasting freeze would reach one node of the cluster only", "remove the rollback section; "
                    + "to go back, point the application at the old cache yourself and run `migrator complete`");
            return null;
        }
        List<String> policies = List.of("flush", "keep");
        if (!policies.contains(cache)) {
            read.problem(PlanValues.valueMark(section, "cache"), "rollback.cache '" + PlanValues.shown(section.entries().get("cache"), cache) + "' is not a cache policy"
                    + Suggestions.didYouMean(cache, policies), "flush (the old cache emptied of the plan's keys before a rollback) or "
                    + "keep (it serves what it held at the cutover)");
            return null;
        }
        return cache;
    }

    private static Plan.Cutover defaults(Endpoint source) {
        String freeze = source == null ? null : FREEZES.get(source.engine().family()).get(0);
        return new Plan.Cutover(DEFAULT_MAX_DOWNTIME, DEFAULT_MAX_LAG, freeze, List.of(), List.of(), List.of(), List.of(), DEFAULT_VALIDATED_WITHIN,
                source != null && source.engine().family() != Engine.Family.REDIS);
    }

    private String freeze(YamlNode.Mapping section, Endpoint source) {
        if (source == null) {
            return null;
        }
        List<String> offered = FREEZES.get(source.engine().family());
        Optional<String> written = read.string(section, "freeze", "cutover");
        if (written.isEmpty()) {
            return section.entries().containsKey("freeze") && !(section.entries().get("freeze") instanceof YamlNode.Null) ? null
                    : offered.get(0);
        }
        String method = written.get().trim();
        if (!offered.contains(method)) {
            read.problem(PlanValues.valueMark(section, "freeze"), "cutover.freeze '" + PlanValues.shown(section.entries().get("freeze"), method) + "' is not a way to freeze a "
                    + source.engine() + " source" + Suggestions.didYouMean(method, offered), "use one of: " + String.join(", ", offered));
            return null;
        }
        return method;
    }

    private List<String> argv(YamlNode.Mapping section, String key) {
        List<String> argv = new ArrayList<>();
        for (YamlNode item : read.list(section, key, "cutover").orElse(List.of())) {
            read.scalarText(item, "cutover." + key + " entry").ifPresent(argv::add);
        }
        return argv;
    }

    /** The steps in order; null when one of them was invalid (each problem recorded). */
    private List<SwitchStep> switchSteps(YamlNode.Mapping section) {
        List<SwitchStep> steps = new ArrayList<>();
        boolean ok = true;
        for (YamlNode item : read.list(section, "switch", "cutover").orElse(List.of())) {
            if (!(item instanceof YamlNode.Mapping step) || step.entries().size() != 1) {
                read.problem(item.mark(), "each cutover.switch step is one of haproxy, pgbouncer, command or http",
                        "write e.g. '- haproxy: {admin: 127.0.0.1:13399, backend: mariadb, server: primary}' (docs/plan.md)");
                ok = false;
                continue;
            }
            int before = read.problemCount();
            read.rejectUnknownKeys(step, "cutover.switch", "a cutover.switch step");
            String kind = step.entries().keySet().iterator().next();
            SwitchStep bound = switch (kind) {
                case "haproxy" -> haproxy(step);
                case "pgbouncer" -> pgbouncer(step);
                case "command" -> command(step);
                case "http" -> http(step);
                default -> null;
            };
            if (bound == null || read.problemCount() > before) {
                ok = false;
            } else {
                steps.add(bound);
            }
        }
        return ok ? steps : null;
    }

    private SwitchStep haproxy(YamlNode.Mapping step) {
        Optional<YamlNode.Mapping> body = read.section(step, "haproxy", true);
        if (body.isEmpty()) {
            return null;
        }
        read.rejectUnknownKeys(body.get(), "cutover.switch.haproxy", "cutover.switch haproxy");
        String admin = address(body.get(), "haproxy");
        String backend = read.requiredString(body.get(), "backend", "cutover.switch haproxy").orElse(null);
        String server = read.requiredString(body.get(), "server", "cutover.switch haproxy").orElse(null);
        String config = read.string(body.get(), "config", "cutover.switch haproxy").orElse(null);
        return admin == null || backend == null || server == null ? null : new SwitchStep.Haproxy(admin, backend, server, config);
    }

    private SwitchStep pgbouncer(YamlNode.Mapping step) {
        Optional<YamlNode.Mapping> body = read.section(step, "pgbouncer", true);
        if (body.isEmpty()) {
            return null;
        }
        read.rejectUnknownKeys(body.get(), "cutover.switch.pgbouncer", "cutover.switch pgbouncer");
        String admin = address(body.get(), "pgbouncer");
        String database = read.requiredString(body.get(), "database", "cutover.switch pgbouncer").orElse(null);
        String user = read.string(body.get(), "user", "cutover.switch pgbouncer").orElse(null);
        Secret password = read.string(body.get(), "password", "cutover.switch pgbouncer").map(Secret::of).orElse(null);
        String config = read.string(body.get(), "config", "cutover.switch pgbouncer").orElse(null);
        return admin == null || database == null ? null : new SwitchStep.Pgbouncer(admin, database, user, password, config);
    }

    private SwitchStep command(YamlNode.Mapping step) {
        List<String> argv = argv(step, "command");
        if (argv.isEmpty()) {
            read.problem(step.mark(), "a cutover.switch command needs the program to run", "write e.g. '- command: [\"./repoint.sh\", \"orders\"]'");
            return null;
        }
        return new SwitchStep.Command(argv);
    }

    private SwitchStep http(YamlNode.Mapping step) {
        Optional<YamlNode.Mapping> body = read.section(step, "http", true);
        if (body.isEmpty()) {
            return null;
        }
        read.rejectUnknownKeys(body.get(), "cutover.switch.http", "cutover.switch http");
        String url = read.requiredString(body.get(), "url", "cutover.switch http").orElse(null);
        if (url != null && !url.startsWith("http://") && !url.startsWith("https://")) {
            read.problem(PlanValues.valueMark(body.get(), "url"), "cutover.switch http url must start with http:// or https://",
                    "write the full address, e.g. https://deploy.example/flip");
            return null;
        }
        String method = read.string(body.get(), "method", "cutover.switch http").orElse("POST").trim().toUpperCase(java.util.Locale.ROOT);
        if (!METHODS.contains(method)) {
            read.problem(PlanValues.valueMark(body.get(), "method"), "cutover.switch http method '" + PlanValues.shown(body.get().entries().get("method"), method) + "' is not one of "
                    + String.join(", ", new java.util.TreeSet<>(METHODS)), "use POST (the default), PUT, PATCH or GET");
            return null;
        }
        return url == null ? null : new SwitchStep.Http(url, method);
    }

    private String address(YamlNode.Mapping body, String kind) {
        Optional<String> admin = read.requiredString(body, "admin", "cutover.switch " + kind);
        if (admin.isEmpty()) {
            return null;
        }
        if (!HOST_PORT.matcher(admin.get().trim()).matches()) {
            read.problem(PlanValues.valueMark(body, "admin"), "cutover.switch " + kind + " admin '"
                    + PlanValues.shown(body.entries().get("admin"), admin.get()) + "' is not host:port",
                    "write where its " + (kind.equals("haproxy") ? "runtime API" : "admin console") + " listens, e.g. 127.0.0.1:"
                            + (kind.equals("haproxy") ? "13399" : "15400"));
            return null;
        }
        return admin.get().trim();
    }
}
