package io.migrator.core.cutover;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.SwitchStep;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the cutover does with pgbouncer, through its admin console: the {@code pgbouncer} freeze (PAUSE the database:
 * it returns once every server connection of the pool is idle, clients queue meanwhile and see no error), and the
 * {@code pgbouncer} switch (the database's {@code [databases]} entry rewritten to the target, RELOAD, RESUME: the pool
 * reconnects, the queued clients go on against the target).
 */
final class Pgbouncers {
    private static final Duration COMMAND = Duration.ofSeconds(5);
    private static final Pattern SIMPLE_NAME = Pattern.compile("[A-Za-z0-9_]+");
    /** One {@code key=value} of a connection string; values may be single-quoted. */
    private static final Pattern PARAM = Pattern.compile("([A-Za-z_]+)\\s*=\\s*('(?:[^'\\\\]|\\\\.|'')*'|\\S+)");

    private final Plan plan;

    Pgbouncers(Plan plan) {
        this.plan = plan;
    }

    private PgbouncerConsole console(SwitchStep.Pgbouncer step) {
        String user = step.user() != null ? step.user() : plan.source().user();
        String password = !step.password().isEmpty() ? step.password().reveal() : plan.source().password().reveal();
        return PgbouncerConsole.open(step.admin(), user, password);
    }

    /** Whether the step can be carried out (and, with {@code freeze}, the database paused within a budget); throws what cannot. */
    String check(SwitchStep.Pgbouncer step, boolean freeze) {
        try (PgbouncerConsole console = console(step)) {
            Map<String, String> config = config(console);
            Optional<PgbouncerConsole.Row> db = database(console, step.database());
            String mode = db.map(r -> r.get("pool_mode")).filter(m -> m != null && !m.isBlank()).orElse(config.getOrDefault("pool_mode", "session"));
            if (freeze && "session".equals(mode)) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "pgbouncer at " + step.admin() + " pools " + step.database()
                        + " in session mode: its PAUSE would wait for every client to disconnect, far past any budget",
                        "set pool_mode = transaction for it (the application must not rely on session state), or freeze with revoke");
            }
            Path file = configFile(step, config);
            if (!Files.isRegularFile(file) || !Files.isWritable(file)) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "pgbouncer's configuration " + file + " is not a file migrator "
                        + "can write: the switch rewrites its [databases] entry for " + step.database(), "run the worker where pgbouncer "
                        + "runs, as a user that may write the file (or give its path as config: in the step), or switch with a command step");
            }
            if (!readIni(file).contains("[databases]")) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, file + " has no [databases] section", "give the file pgbouncer reads "
                        + "as config: in the step");
            }
            String where = db.map(r -> "database " + step.database() + " -> " + r.get("host") + ":" + r.get("port"))
                    .orElse("database " + step.database() + " not in use yet (a wildcard entry serves it)");
            return "admin console answers; " + where + ", pool_mode " + mode + "; " + file + " writable";
        } catch (PgbouncerConsole.ConsoleError | PgbouncerConsole.ConsoleTimeout e) {
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "pgbouncer at " + step.admin() + ": " + e.getMessage(),
                    "the switch step's user must be one of pgbouncer's admin_users");
        }
    }

    /** PAUSE: returns once no server connection of the database is in a transaction; undone (RESUME) when that takes longer than {@code wait}. */
    void pause(SwitchStep.Pgbouncer step, Duration wait) {
        try (PgbouncerConsole console = console(step)) {
            console.query("PAUSE " + name(step.database()), wait); // idempotent: a restart's second freeze after one that outlived its worker
        } catch (PgbouncerConsole.ConsoleTimeout e) {
            // the waiting PAUSE is cancelled by a RESUME from another console session
            resume(step);
            throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "pgbouncer's PAUSE " + step.database() + " did not finish within " + wait.toMillis()
                    + " ms: transactions through it were still running (or idle in transaction)", "look at SHOW SERVERS on its console and at "
                    + "pg_stat_activity for long transactions, then cut over again");
        } catch (PgbouncerConsole.ConsoleError e) {
            throw new MigratorException(ErrorCode.CUTOVER_ABORTED, "pgbouncer at " + step.admin() + " refused " + e.getMessage(),
                    e.getMessage().contains("no such database") ? "no client has used " + step.database() + " through it yet; give it an entry "
                            + "in [databases] or freeze with revoke" : "check the step's database name and pgbouncer's log");
        }
    }

    /**
     * RESUME; what it did. Idempotent. SHOW DATABASES cannot say whether a database is paused: pgbouncer 1.18 stops listing
     * a paused database that only a wildcard serves once its connections are gone, yet it stays paused. So RESUME is sent,
     * and "not paused" is an answer, not a failure.
     */
    String resume(SwitchStep.Pgbouncer step) {
        try (PgbouncerConsole console = console(step)) {
            return resume(console, step);
        } catch (PgbouncerConsole.ConsoleError | PgbouncerConsole.ConsoleTimeout e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "pgbouncer at " + step.admin() + ": " + e.getMessage(),
                    "run RESUME " + step.database() + " on its admin console by hand");
        }
    }

    private static String resume(PgbouncerConsole console, SwitchStep.Pgbouncer step) {
        try {
            console.query("RESUME " + name(step.database()), COMMAND);
            return "RESUME " + step.database();
        } catch (PgbouncerConsole.ConsoleError e) {
            if (e.getMessage().contains("is not paused") || e.getMessage().contains("no such database")) {
                return step.database() + " was not paused";
            }
            throw e;
        }
    }

    /** The switch: the entry rewritten to the target, RELOAD, checked, RESUME. Idempotent. */
    String switchTo(SwitchStep.Pgbouncer step) {
        Endpoint target = plan.target();
        try (PgbouncerConsole console = console(step)) {
            Path file = configFile(step, config(console));
            String rewritten = rewriteIni(file, step.database(), target.host(), target.port(), target.database());
            console.query("RELOAD", COMMAND);
            Optional<PgbouncerConsole.Row> db = database(console, step.database());
            boolean repointed = db.isPresent() && target.host().equals(db.get().get("host")) && Integer.toString(target.port()).equals(db.get().get("port"))
                    && (target.database() == null || target.database().equals(db.get().get("database")));
            if (!repointed) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, "pgbouncer at " + step.admin() + " did not take the new entry for "
                        + step.database() + " after RELOAD (it shows " + db.map(r -> r.get("host") + ":" + r.get("port") + "/" + r.get("database")).orElse("no such database")
                        + "): another file or an %include may define it", "point its entry at " + target.host() + ":" + target.port()
                        + " by hand, RELOAD, RESUME " + step.database() + ", then cut over again");
            }
            String resumed = resume(console, step);
            return rewritten + ", RELOAD, " + (resumed.startsWith("RESUME") ? "RESUME" : "was not paused");
        } catch (PgbouncerConsole.ConsoleError | PgbouncerConsole.ConsoleTimeout e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "pgbouncer at " + step.admin() + ": " + e.getMessage(),
                    "finish by hand (RELOAD, RESUME " + step.database() + " on its console), or cut over again");
        }
    }

    private static Map<String, String> config(PgbouncerConsole console) {
        Map<String, String> config = new LinkedHashMap<>();
        for (PgbouncerConsole.Row row : console.query("SHOW CONFIG", COMMAND)) {
            config.put(row.get("key"), row.get("value"));
        }
        return config;
    }

    private static Optional<PgbouncerConsole.Row> database(PgbouncerConsole console, String name) {
        return console.query("SHOW DATABASES", COMMAND).stream().filter(r -> name.equals(r.get("name"))).findFirst();
    }

    private static Path configFile(SwitchStep.Pgbouncer step, Map<String, String> config) {
        String file = step.config() != null ? step.config() : config.get("conffile");
        if (file == null || file.isBlank()) {
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "pgbouncer at " + step.admin() + " does not say which file it reads",
                    "give its configuration file as config: in the switch step");
        }
        return Path.of(file);
    }

    private static String name(String database) {
        return SIMPLE_NAME.matcher(database).matches() ? database : "\"" + database.replace("\"", "\"\"") + "\"";
    }

    private static String readIni(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "cannot read " + file + ": " + e.getMessage(), "let the worker's user read it", e);
        }
    }

    /**
     * Points the database's {@code [databases]} entry at host:port/dbname, keeping its other settings (pool size, user...);
     * adds the entry (after the section header) when only a wildcard served it. Atomic; owner and mode kept.
     */
    static String rewriteIni(Path file, String database, String host, int port, String dbname) {
        try {
            List<String> lines = new ArrayList<>(Files.readAllLines(file, StandardCharsets.UTF_8));
            int header = -1;
            boolean inDatabases = false;
            Pattern entry = Pattern.compile("^(\\s*)(\"?)" + Pattern.quote(database) + "\\2(\\s*=\\s*)(.*)$");
            for (int i = 0; i < lines.size(); i++) {
                String trimmed = lines.get(i).trim();
                if (trimmed.startsWith("[")) {
                    inDatabases = trimmed.equalsIgnoreCase("[databases]");
                    if (inDatabases) {
                        header = i;
                    }
                    continue;
                }
                Matcher m = entry.matcher(lines.get(i));
                if (inDatabases && m.matches()) {
                    Map<String, String> params = params(m.group(4));
                    String before = params.getOrDefault("host", "?") + ":" + params.getOrDefault("port", "5432");
                    params.put("host", host);
                    params.put("port", Integer.toString(port));
                    if (dbname != null) {
                        params.put("dbname", dbname);
                    }
                    String line = m.group(1) + m.group(2) + database + m.group(2) + m.group(3) + join(params);
                    if (line.equals(lines.get(i))) {
                        return file + " already points " + database + " at " + host + ":" + port;
                    }
                    lines.set(i, line);
                    ConfigFiles.replace(file, lines);
                    return file + ": " + database + " " + before + " -> " + host + ":" + port;
                }
            }
            if (header < 0) {
                throw new MigratorException(ErrorCode.CUTOVER_FAILED, file + " has no [databases] section", "point " + database + " at "
                        + host + ":" + port + " by hand, RELOAD and RESUME it on the admin console");
            }
            Map<String, String> params = new LinkedHashMap<>();
            params.put("host", host);
            params.put("port", Integer.toString(port));
            if (dbname != null) {
                params.put("dbname", dbname);
            }
            lines.add(header + 1, database + " = " + join(params));
            ConfigFiles.replace(file, lines);
            return file + ": entry " + database + " -> " + host + ":" + port + " added (a wildcard served it)";
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "cannot rewrite " + file + ": " + e.getMessage(), "point " + database
                    + " at " + host + ":" + port + " by hand, RELOAD and RESUME it on the admin console", e);
        }
    }

    private static Map<String, String> params(String connect) {
        Map<String, String> params = new LinkedHashMap<>();
        Matcher m = PARAM.matcher(connect);
        while (m.find()) {
            params.put(m.group(1), m.group(2));
        }
        return params;
    }

    private static String join(Map<String, String> params) {
        StringBuilder s = new StringBuilder();
        params.forEach((k, v) -> s.append(s.length() == 0 ? "" : " ").append(k).append('=').append(quoted(v)));
        return s.toString();
    }

    private static String quoted(String value) {
        if (value.startsWith("'") || !value.matches(".*[\\s'].*")) {
            return value;
        }
        return "'" + value.replace("'", "''") + "'";
    }
}
