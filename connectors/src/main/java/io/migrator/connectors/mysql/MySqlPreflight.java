package io.migrator.connectors.mysql;

import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The MySQL/MariaDB preflight assessments: pure functions of {@link MySqlServerFacts}, each naming what
 * was found and the exact remedy.
 */
final class MySqlPreflight {
    /** A conservative copy rate for the binlog-retention estimate (bytes per second). */
    static final long COPY_BYTES_PER_SECOND = 20L << 20;

    private MySqlPreflight() {
    }

    static List<Assessment> source(Plan plan, MySqlServerFacts f) {
        Role r = Role.SOURCE;
        List<Assessment> out = new ArrayList<>();
        if (!f.databaseExists()) {
            return out; // the common check already failed for the missing database
        }
        out.add(on(f.variable("log_bin")) ? Assessment.ok(r, "binary log", "log_bin is ON")
                : Assessment.fail(r, "binary log", "log_bin is OFF: the source writes no binary log, so no change can be streamed",
                "start the server with log_bin (my.cnf: log_bin = mysql-bin) and restart it; on RDS/Aurora set backup retention > 0"));
        String format = f.variable("binlog_format").toUpperCase(Locale.ROOT);
        out.add(format.equals("ROW") ? Assessment.ok(r, "binlog format", "binlog_format is ROW")
                : Assessment.fail(r, "binlog format", "binlog_format is " + format + ": row events are needed",
                "SET GLOBAL binlog_format = 'ROW' (and binlog_format = ROW in my.cnf or the parameter group); reconnect the applications"));
        String image = f.variable("binlog_row_image").toUpperCase(Locale.ROOT);
        out.add(image.isEmpty() || image.equals("FULL") ? Assessment.ok(r, "binlog row image", "binlog_row_image is FULL")
                : Assessment.fail(r, "binlog row image", "binlog_row_image is " + image + ": changes would carry partial rows",
                "SET GLOBAL binlog_row_image = 'FULL' (and in my.cnf or the parameter group)"));
        out.add(!f.variable("server_id").equals("0") ? Assessment.ok(r, "server id", "server_id is " + f.variable("server_id"))
                : Assessment.fail(r, "server id", "server_id is 0: the server cannot serve replicas",
                "set server_id to a unique non-zero value in my.cnf and restart"));
        if (!f.mariadb()) {
            String gtid = f.variable("gtid_mode").toUpperCase(Locale.ROOT);
            out.add(gtid.equals("ON") ? Assessment.ok(r, "GTID mode", "gtid_mode is ON")
                    : Assessment.warn(r, "GTID mode", "gtid_mode is " + gtid + ": positions are file/offset, which a failover renumbers",
                    "enable GTIDs (gtid_mode = ON, enforce_gtid_consistency = ON) before a migration that must survive a failover"));
        } else {
            out.add(Assessment.ok(r, "GTID", "MariaDB GTID position " + f.variable("gtid_binlog_pos")));
        }
        out.add(retention(f));
        String mode = f.variable("sql_mode").toUpperCase(Locale.ROOT);
        if (!mode.isEmpty() && !(mode.contains("NO_ZERO_DATE") && mode.contains("STRICT"))) {
            out.add(Assessment.warn(r, "zero dates", "sql_mode (" + f.variable("sql_mode") + ") lets applications write zero dates "
                    + "('0000-00-00'); the copy keeps them, but a row changed while streaming arrives with NULL in such a column",
                    "if the application writes zero dates, run `migrator validate` after the copy and fix those rows; "
                            + "or add NO_ZERO_DATE and STRICT_TRANS_TABLES to sql_mode"));
        }
        out.add(grants(r, f, plan));
        TableFilter filter = plan.tables();
        out.addAll(keys(r, f, plan));
        if (f.mariadb()) {
            Map<String, List<String>> unsupported = new java.util.TreeMap<>(f.unsupportedColumns());
            unsupported.keySet().removeIf(table -> !plan.tables().includes(plan.source().database(), table));
            String named = unsupported.entrySet().stream().map(e -> e.getKey() + "(" + String.join(", ", e.getValue()) + ")")
                    .collect(Collectors.joining("; "));
            if (unsupported.isEmpty()) {
                out.add(Assessment.ok(r, "types", "no INET6, INET4 or UUID columns"));
            } else if (plan.target().engine() == Engine.MYSQL) {
                out.add(Assessment.fail(r, "types", "MariaDB-only column types that MySQL cannot hold: " + named,
                        "change them on the source to types MySQL has (INET6 -> VARBINARY(16), UUID -> CHAR(36)), or exclude the tables"));
            } else {
                // the binlog stream's DDL grammar (Debezium 3.5) rejects INET6 and reads UUID/INET4 values in no exact form:
                // copied, such a table would stop the stream at its start, or change its values
                out.add(Assessment.fail(r, "types", "column types the binlog stream cannot carry exactly: " + named,
                        "exclude the tables (tables.exclude) and move them with mariadb-dump while the application does not write "
                                + "them, or change the columns on the source (INET6 -> VARBINARY(16), INET4 -> INT UNSIGNED, "
                                + "UUID -> BINARY(16) or CHAR(36)) before the migration starts"));
            }
        }
        return out;
    }

    private static Assessment retention(MySqlServerFacts f) {
        long seconds = parseLong(f.variable("binlog_expire_logs_seconds"));
        if (seconds == 0) {
            seconds = parseLong(f.variable("expire_logs_days")) * 86_400;
        }
        long estimate = Math.max(60, f.dataBytes() / COPY_BYTES_PER_SECOND);
        String copy = "the copy of " + (f.dataBytes() >> 20) + " MB is estimated at " + estimate + " s";
        if (seconds == 0) {
            return Assessment.ok(Role.SOURCE, "binlog retention", "binary logs are never purged automatically; " + copy);
        }
        if (seconds < 3 * estimate) {
            return Assessment.fail(Role.SOURCE, "binlog retention", "binary logs are kept " + seconds + " s, less than three times the copy ("
                    + copy + "): the stream could find its start position purged", "SET GLOBAL binlog_expire_logs_seconds = "
                    + Math.max(86_400, 3 * estimate) + " (RDS: CALL mysql.rds_set_configuration('binlog retention hours', 24))");
        }
        return Assessment.ok(Role.SOURCE, "binlog retention", "binary logs are kept " + seconds + " s; " + copy);
    }

    /**
     * Which key carries each table's rows: the primary key, else a unique index over NOT NULL columns (the plan's
     * {@code tables.keys} or the first by name); a table with neither fails, as does a {@code tables.keys} entry that names
     * no table the plan moves.
     */
    static List<Assessment> keys(Role r, MySqlServerFacts f, Plan plan) {
        String db = plan.source().database();
        TableFilter filter = plan.tables();
        List<String> problems = new ArrayList<>();
        List<String> byIndex = new ArrayList<>();
        List<String> unnameable = new ArrayList<>();
        for (String table : f.tableRows().keySet().stream().sorted().toList()) {
            if (!filter.includes(db, table)) {
                continue;
            }
            MySqlKeys.Choice key = MySqlKeys.choose(db, table, f.uniqueIndexes().get(table), filter);
            if (key.problem() != null) {
                problems.add(key.problem());
            } else if (!key.primary()) {
                byIndex.add(table + ": " + key.describe());
                if (io.migrator.connectors.debezium.DebeziumKeys.unnameable(db, table, key.columns())) {
                    unnameable.add(table);
                }
            }
        }
        for (String named : filter.keys().keySet()) {
            if (f.tableRows().keySet().stream().noneMatch(t -> TableFilter.names(named, db, t) && filter.includes(db, t))) {
                problems.add("tables.keys names " + named + ", which is not a table the plan moves from " + db);
            }
        }
        List<Assessment> out = new ArrayList<>();
        if (!problems.isEmpty()) {
            out.add(Assessment.fail(r, "keys", "rows that no key identifies: " + String.join("; ", problems),
                    "name a unique index over NOT NULL columns in the plan (tables.keys: {table: [columns]}), add a primary key "
                            + "(ALTER TABLE `t` ADD PRIMARY KEY (...)), or leave the table out with tables.exclude"));
        } else if (!unnameable.isEmpty()) {
            out.add(Assessment.fail(r, "keys", "these tables are keyed by a unique index, and their table or key column names hold ; : "
                    + "or , which the binlog stream cannot be told: " + String.join(", ", unnameable),
                    "rename them, give them a primary key, or leave them out with tables.exclude"));
        } else {
            out.add(Assessment.ok(r, "keys", byIndex.isEmpty() ? "every table has a primary key"
                    : "every table has a key; without a primary key, rows are identified by " + String.join("; ", byIndex)));
        }
        return out;
    }

    private static Assessment grants(Role role, MySqlServerFacts f, Plan plan) {
        MySqlGrants granted = new MySqlGrants(f.grants());
        List<String> missing = new ArrayList<>();
        if (!granted.onDatabase("SELECT", plan.source().database())) {
            missing.add("GRANT SELECT ON `" + plan.source().database() + "`.* TO " + grantee(f));
        }
        List<String> replication = new ArrayList<>();
        if (!granted.global("REPLICATION SLAVE") && !granted.global("REPLICATION REPLICA")) {
            replication.add("REPLICATION SLAVE");
        }
        if (!granted.global("REPLICATION CLIENT") && !granted.global("BINLOG MONITOR")) {
            replication.add(f.mariadb() ? "BINLOG MONITOR" : "REPLICATION CLIENT");
        }
        if (!replication.isEmpty()) {
            missing.add("GRANT " + String.join(", ", replication) + " ON *.* TO " + grantee(f));
        }
        return missing.isEmpty() ? Assessment.ok(role, "privileges", "the user may read the tables and the binary log")
                : Assessment.fail(role, "privileges", "the user lacks privileges to read the tables or the binary log",
                String.join("; ", missing));
    }

    /**
     * Settings that must not differ from the source's for rows to land as they left: table-name case (two source tables
     * `Orders` and `orders` would become one, or a name would not be found), and the largest packet (a row or statement the
     * source took, the target would refuse in the middle of the stream).
     */
    static List<Assessment> sameServerSettings(MySqlServerFacts target, MySqlServerFacts source, MySqlRowSizes rows) {
        Role r = Role.TARGET;
        List<Assessment> out = new ArrayList<>();
        String sourceCase = source.variable("lower_case_table_names");
        String targetCase = target.variable("lower_case_table_names");
        out.add(sourceCase.isEmpty() || targetCase.isEmpty() || sourceCase.equals(targetCase)
                ? Assessment.ok(r, "table name case", "lower_case_table_names is " + (targetCase.isEmpty() ? "unknown" : targetCase) + " on both")
                : Assessment.fail(r, "table name case", "lower_case_table_names is " + sourceCase + " on the source, " + targetCase
                + " on the target: tables whose names differ only in case would not map one to one",
                "create the target with the source's lower_case_table_names (it can only be set when the server is initialised; on RDS "
                        + "in the parameter group before the instance is created)"));
        long sourcePacket = number(source.variable("max_allowed_packet"));
        long targetPacket = number(target.variable("max_allowed_packet"));
        out.add(packetSize(sourcePacket, targetPacket, rows));
        return out;
    }

    /**
     * Every row must fit the target's packet. A target that allows at least the source's is fine; a smaller one is judged by
     * the rows the plan's tables hold (measured where their columns could reach it), not by the setting alone.
     */
    static Assessment packetSize(long sourcePacket, long targetPacket, MySqlRowSizes rows) {
        Role r = Role.TARGET;
        if (sourcePacket <= 0 || targetPacket <= 0 || targetPacket >= sourcePacket) {
            return Assessment.ok(r, "packet size", "max_allowed_packet on the target is at least the source's");
        }
        String settings = "max_allowed_packet is " + targetPacket + " on the target, " + sourcePacket + " on the source";
        String remedy = "SET GLOBAL max_allowed_packet = " + sourcePacket + " on the target (on RDS: the parameter group), then check again";
        if (rows == null) {
            return Assessment.fail(r, "packet size", settings + ": a row the source took could be refused by the target in the middle "
                    + "of the copy or the stream", remedy);
        }
        long headroom = 64 * 1024; // the statement around the row
        List<String> over = rows.largest().entrySet().stream().filter(e -> e.getValue() + headroom > targetPacket)
                .map(e -> e.getKey() + " (largest row " + e.getValue() + " bytes)").toList();
        if (!over.isEmpty()) {
            return Assessment.fail(r, "packet size", settings + ", and rows of the plan's tables do not fit the target's: "
                    + String.join(", ", over) + " — the copy would stop at the first of them", remedy);
        }
        if (!rows.unmeasured().isEmpty()) {
            return Assessment.warn(r, "packet size", settings + "; tables of more than " + MySqlRowSizes.MEASURED_ROWS
                    + " rows whose columns could hold larger rows were not read: " + String.join(", ", rows.unmeasured())
                    + " — a row over " + targetPacket + " bytes would stop the copy or the stream", remedy + " (or measure: SELECT "
                    + "MAX(OCTET_LENGTH(col)) on their long columns)");
        }
        var top = rows.largest().entrySet().stream().max(Map.Entry.comparingByValue());
        return Assessment.ok(r, "packet size", settings + ", and every row of the plan's tables fits the target's" + top
                .map(e -> " (the largest, in " + e.getKey() + ": " + e.getValue() + " bytes)").orElse(" (no table's columns can reach it)"));
    }

    private static long number(String value) {
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    static List<Assessment> target(Plan plan, MySqlServerFacts f) {
        return target(plan, f, null);
    }

    static List<Assessment> target(Plan plan, MySqlServerFacts f, MySqlServerFacts sourceFacts) {
        return target(plan, f, sourceFacts, null);
    }

    /**
     * {@code sourceFacts} (when known) lets the target's existing tables be compared with the source's; {@code rows} (when
     * measured) the target's packet size with the source's largest rows.
     */
    static List<Assessment> target(Plan plan, MySqlServerFacts f, MySqlServerFacts sourceFacts, MySqlRowSizes rows) {
        Role r = Role.TARGET;
        List<Assessment> out = new ArrayList<>();
        if (sourceFacts != null) {
            List<String> differences = new ArrayList<>();
            for (var table : sourceFacts.columnTypes().entrySet()) {
                Map<String, String> existing = f.columnTypes().get(table.getKey());
                if (existing == null || !plan.tables().includes(plan.source().database(), table.getKey())) {
                    continue;
                }
                Map<String, String> targetColumns = new java.util.LinkedHashMap<>(existing);
                for (var column : table.getValue().entrySet()) {
                    String type = targetColumns.remove(column.getKey());
                    if (type == null) {
                        differences.add(table.getKey() + "." + column.getKey() + " is missing on the target");
                    } else if (!type.equalsIgnoreCase(column.getValue())) {
                        differences.add(table.getKey() + "." + column.getKey() + " is " + type + " on the target, " + column.getValue() + " on the source");
                    }
                }
                targetColumns.keySet().forEach(extra -> differences.add(table.getKey() + "." + extra + " exists only on the target"));
            }
            out.add(differences.isEmpty() ? Assessment.ok(r, "table definitions", "existing target tables match the source")
                    : Assessment.fail(r, "table definitions", "existing target tables differ from the source: " + String.join("; ", differences),
                    "drop those target tables so migrator creates them from the source, or alter them to match"));
            out.addAll(sameServerSettings(f, sourceFacts, rows));
        }
        boolean readOnly = on(f.variable("read_only")) || on(f.variable("super_read_only"));
        out.add(!readOnly ? Assessment.ok(r, "writable", "read_only is OFF")
                : Assessment.fail(r, "writable", "the target is read-only (read_only or super_read_only is ON)",
                "SET GLOBAL read_only = OFF on the target (on RDS: the parameter group), or point the plan at the writer endpoint"));
        MySqlGrants granted = new MySqlGrants(f.grants());
        List<String> needed = List.of("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX");
        // on every database, or on the two the worker writes: the plan's and the bookkeeping one
        List<String> missing = needed.stream().filter(p -> !(granted.onDatabase(p, plan.target().database())
                && granted.onDatabase(p, MySqlTarget.BOOKKEEPING))).toList();
        String privileges = String.join(", ", missing);
        out.add(missing.isEmpty() ? Assessment.ok(r, "privileges", "the user may create and write the tables and the bookkeeping schema")
                : Assessment.fail(r, "privileges", "the user lacks " + privileges + " on the target",
                "GRANT " + privileges + " ON *.* TO " + grantee(f) + ", or on the two databases the worker writes: GRANT " + privileges
                        + " ON " + MySqlDialect.quote(plan.target().database()) + ".* TO " + grantee(f) + "; GRANT " + privileges + " ON "
                        + MySqlDialect.quote(MySqlTarget.BOOKKEEPING) + ".* TO " + grantee(f)
                        + " (the migrator schema holds state, chunk marks and the checkpoint)"));
        out.add(reverseReadiness(r, f, plan));
        if (!f.migrationStateExists()) {
            List<String> busy = f.tableRows().entrySet().stream()
                    .filter(e -> plan.tables().includes(plan.source().database(), e.getKey()) && e.getValue() > 0)
                    .map(e -> e.getKey() + " (~" + e.getValue() + " rows)").toList();
            out.add(busy.isEmpty() ? Assessment.ok(r, "empty target", "no target table of the plan holds rows")
                    : Assessment.fail(r, "empty target", "target tables already hold rows, which the copy would collide with: "
                    + String.join(", ", busy), "empty them (TRUNCATE TABLE) or drop them so migrator creates them, or exclude them"));
            // MySQL has no replica mode for triggers: one on a target table fires on every copied and replayed row, whose
            // effects (an audit row, a counter) the source's own trigger already wrote and the stream brings too
            List<String> firing = f.triggers().entrySet().stream()
                    .filter(e -> plan.tables().includes(plan.source().database(), e.getKey()))
                    .flatMap(e -> e.getValue().stream().map(t -> e.getKey() + "." + t)).toList();
            out.add(firing.isEmpty() ? Assessment.ok(r, "target triggers", "no target table of the plan has a trigger")
                    : Assessment.fail(r, "target triggers", "target tables have triggers that would fire on every copied and replayed "
                    + "row, doubling what the source's triggers already did: " + String.join(", ", firing), "keep their definitions "
                    + "(SHOW CREATE TRIGGER) and drop them on the target (DROP TRIGGER); the cutover's open step creates the source's "
                    + "triggers on the target when the application moves there"));
        } else {
            out.add(Assessment.ok(r, "empty target", "the migration has started before; it resumes from its state on the target"));
        }
        return out;
    }

    /**
     * Whether the target's binlog could feed reverse replication after the cutover (cutover.reverse): a warning here, since
     * it is needed only then; the cutover's preconditions refuse until it holds.
     */
    static Assessment reverseReadiness(Role r, MySqlServerFacts f, Plan plan) {
        if (!plan.cutover().reverse()) {
            return Assessment.ok(r, "reverse replication", "off (cutover.reverse: false): no rollback after the cutover");
        }
        String format = f.variable("binlog_format");
        String image = f.variable("binlog_row_image");
        boolean ready = on(f.variable("log_bin")) && format.equalsIgnoreCase("ROW") && image.equalsIgnoreCase("FULL");
        return ready ? Assessment.ok(r, "reverse replication", "the target writes a ROW binlog with full images: after the cutover its "
                + "writes can stream back into the old source, and `migrator rollback` can go back")
                : Assessment.warn(r, "reverse replication", "the target's binlog cannot feed reverse replication (" + (on(f.variable("log_bin"))
                ? "binlog_format=" + format + ", binlog_row_image=" + image : "log_bin is OFF") + "): the cutover will be refused until it "
                + "can, since no rollback could carry the target's writes back", "run the target with log_bin, binlog_format=ROW and "
                + "binlog_row_image=FULL (RDS/Aurora: automated backups on, those two in the parameter group), or set cutover.reverse: false");
    }

    private static String grantee(MySqlServerFacts f) {
        for (String grant : f.grants()) {
            int to = grant.indexOf(" TO ");
            if (to > 0) {
                String rest = grant.substring(to + 4).trim();
                int end = rest.indexOf(" IDENTIFIED");
                return end > 0 ? rest.substring(0, end) : rest.split(" WITH ")[0];
            }
        }
        return "'migrator'@'%'";
    }

    private static boolean on(String value) {
        return value.equalsIgnoreCase("ON") || value.equals("1");
    }

    private static long parseLong(String s) {
        try {
            return (long) Double.parseDouble(s.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
