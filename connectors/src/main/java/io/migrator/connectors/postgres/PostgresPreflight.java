package io.migrator.connectors.postgres;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.spi.Assessment;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The PostgreSQL preflight assessments: pure functions of {@link PostgresServerFacts}, each naming what was found and the remedy. */
final class PostgresPreflight {
    /** A conservative copy rate for the WAL-retention estimate (bytes per second). */
    static final long COPY_BYTES_PER_SECOND = 20L << 20;

    private PostgresPreflight() {
    }

    static List<Assessment> source(Plan plan, PostgresServerFacts f) {
        Role r = Role.SOURCE;
        String user = plan.source().user();
        List<Assessment> out = new ArrayList<>();
        out.add(f.versionNum() >= 100000 ? Assessment.ok(r, "version", "PostgreSQL " + f.version())
                : Assessment.fail(r, "version", "PostgreSQL " + f.version() + " has no pgoutput logical decoding",
                "upgrade the source to PostgreSQL 10 or later"));
        if (f.inRecovery()) {
            // PostgreSQL 16 decodes on a standby, but migrator writes on its source: the publication, the heartbeat row
            out.add(Assessment.fail(r, "primary", "the source is a standby (in recovery): migrator creates a publication and writes "
                    + "a heartbeat row there, which a standby refuses" + (f.versionNum() < 160000 ? ", and PostgreSQL " + f.version()
                    + " cannot decode changes on a standby at all" : ""), "point the plan's source at the primary"));
        }
        if ("SQL_ASCII".equals(f.settings().get("server_encoding"))) {
            // SQL_ASCII stores whatever bytes clients send, unchecked; the stream reads every value as UTF-8 text
            out.add(Assessment.fail(r, "encoding", "the source database's encoding is SQL_ASCII: PostgreSQL keeps whatever bytes clients "
                    + "sent, unchecked, and migrator reads values as UTF-8 text: bytes that are not UTF-8 would arrive changed or be "
                    + "refused by the target", "convert the data to UTF8 first (for example pg_dump, iconv from the encoding the "
                    + "applications really wrote, and a restore into a database created WITH ENCODING 'UTF8'), then migrate that database"));
        }
        String wal = f.settings().getOrDefault("wal_level", "?");
        out.add(wal.equals("logical") ? Assessment.ok(r, "wal_level", "wal_level is logical")
                : Assessment.fail(r, "wal_level", "wal_level is " + wal + ": changes cannot be decoded",
                "ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL; on RDS/Aurora set rds.logical_replication = 1 in "
                        + "the parameter group and reboot"));
        int slots = f.setting("max_replication_slots", 0);
        out.add(slots - f.slotsUsed() >= 1 ? Assessment.ok(r, "replication slots", (slots - f.slotsUsed()) + " of " + slots + " free")
                : Assessment.fail(r, "replication slots", "all " + slots + " replication slots are in use (" + f.slotsUsed() + ")",
                "raise max_replication_slots (restart), or drop an unused slot: SELECT pg_drop_replication_slot('name')"));
        int senders = f.setting("max_wal_senders", 0);
        out.add(senders - f.sendersUsed() >= 1 ? Assessment.ok(r, "WAL senders", (senders - f.sendersUsed()) + " of " + senders + " free")
                : Assessment.fail(r, "WAL senders", "all " + senders + " WAL senders are busy", "raise max_wal_senders (restart)"));
        out.add(f.replication() ? Assessment.ok(r, "replication privilege", user + " may open replication connections")
                : Assessment.fail(r, "replication privilege", user + " has no REPLICATION attribute",
                "ALTER ROLE " + PostgresDialect.quote(user) + " WITH REPLICATION; on RDS/Aurora: GRANT rds_replication TO "
                        + PostgresDialect.quote(user)));
        if (f.tables().isEmpty()) {
            out.add(Assessment.fail(r, "tables", "the plan's tables filter selects no table in " + plan.source().database(),
                    "check tables.include/exclude (patterns with a dot match schema.table)"));
        }
        List<String> unreadable = new ArrayList<>();
        List<String> keyless = new ArrayList<>();
        List<String> fullIdentity = new ArrayList<>();
        List<String> notOwned = new ArrayList<>();
        List<String> byIndex = new ArrayList<>();
        for (Map.Entry<TableId, PostgresServerFacts.TableFacts> e : f.tables().entrySet()) {
            PostgresServerFacts.TableFacts t = e.getValue();
            if (!t.selectable()) {
                unreadable.add(e.getKey().toString());
            }
            if (!t.owned()) {
                notOwned.add(e.getKey().toString());
            }
            String useIndex = "ALTER TABLE " + PostgresDialect.quote(e.getKey()) + " REPLICA IDENTITY USING INDEX its_unique_index: "
                    + "a unique index over NOT NULL columns, no table rewrite";
            java.util.Optional<List<String>> named = plan.tables().keyFor(e.getKey().schema(), e.getKey().name());
            if (t.replicaIdentity() == 'n') {
                keyless.add(e.getKey() + " (REPLICA IDENTITY NOTHING: updates and deletes carry no key" + (t.uniqueNotNull() ? "; " + useIndex : "") + ")");
            } else if (t.replicaIdentity() == 'd' && !t.primaryKey()) {
                keyless.add(e.getKey() + (t.uniqueNotNull() ? " (no primary key, so REPLICA IDENTITY DEFAULT sends no key; " + useIndex + ")"
                        : " (no primary key and no unique index over NOT NULL columns)"));
            } else if (t.replicaIdentity() == 'i' && t.primaryKey() && !t.identityHasKey()) {
                keyless.add(e.getKey() + " (its REPLICA IDENTITY index lacks primary key columns, so updates and deletes arrive "
                        + "without the key; ALTER TABLE " + PostgresDialect.quote(e.getKey()) + " REPLICA IDENTITY DEFAULT)");
            } else if (t.replicaIdentity() == 'f' && !t.primaryKey()) {
                fullIdentity.add(e.getKey() + (t.uniqueNotNull() ? " (" + useIndex + ")" : ""));
            } else if (t.replicaIdentity() == 'i' && !t.primaryKey()) {
                byIndex.add(e.getKey() + ": unique index " + t.identityIndex() + " (" + String.join(", ", t.identityColumns()) + ")");
            }
            List<String> carried = t.primaryKey() ? t.primaryColumns() : t.identityColumns();
            if (named.isPresent() && !new java.util.HashSet<>(named.get()).equals(new java.util.HashSet<>(carried))) {
                keyless.add(e.getKey() + " (tables.keys names (" + String.join(", ", named.get()) + "), but "
                        + (t.primaryKey() ? "its primary key (" : "its changes carry the REPLICA IDENTITY columns (") + String.join(", ", carried)
                        + "); on PostgreSQL the key is the primary key or the REPLICA IDENTITY index: drop the entry, or ALTER TABLE "
                        + PostgresDialect.quote(e.getKey()) + " REPLICA IDENTITY USING INDEX the index over those columns)");
            }
        }
        for (String entry : plan.tables().keys().keySet()) {
            if (f.tables().keySet().stream().noneMatch(t -> TableFilter.names(entry, t.schema(), t.name()))) {
                keyless.add("tables.keys names " + entry + ", which is not a table the plan moves");
            }
        }
        out.add(unreadable.isEmpty() ? Assessment.ok(r, "read privilege", user + " may read every table")
                : Assessment.fail(r, "read privilege", user + " cannot SELECT " + String.join(", ", unreadable),
                "GRANT SELECT ON " + String.join(", ", f.tables().entrySet().stream().filter(e -> !e.getValue().selectable())
                        .map(e -> PostgresDialect.quote(e.getKey())).toList()) + " TO "
                        + PostgresDialect.quote(user)));
        if (keyless.isEmpty() && fullIdentity.isEmpty()) {
            out.add(Assessment.ok(r, "keys", byIndex.isEmpty() ? "every table has a primary key"
                    : "every table has a key; without a primary key, rows are identified by their REPLICA IDENTITY index: "
                    + String.join("; ", byIndex)));
        } else if (!keyless.isEmpty()) {
            out.add(Assessment.fail(r, "keys", "rows of these tables cannot be identified in the change stream: " + String.join("; ", keyless),
                "give each a key its changes carry: REPLICA IDENTITY USING INDEX over a unique index of NOT NULL columns (no table "
                        + "rewrite), or a primary key (ALTER TABLE t ADD PRIMARY KEY USING INDEX its_unique_index); or leave the table "
                        + "out with tables.exclude"));
        }
        if (!fullIdentity.isEmpty()) {
            out.add(Assessment.fail(r, "keys", "no primary key on " + String.join(", ", fullIdentity) + ": REPLICA IDENTITY FULL without a "
                    + "key is not replayed (matching whole rows can duplicate or lose identical rows after a restart)",
                    "REPLICA IDENTITY USING INDEX over a unique index of NOT NULL columns, or add a primary key; or leave the table out "
                            + "with tables.exclude"));
        }
        if (!notOwned.isEmpty()) {
            out.add(Assessment.warn(r, "publication", user + " does not own " + String.join(", ", notOwned) + ", and PostgreSQL lets only "
                    + "the owner (or a superuser) add a table to a publication", "have the owner run: CREATE PUBLICATION "
                    + PostgresDialect.quote(PostgresSource.slotName(plan.name())) + " FOR TABLE "
                    + String.join(", ", f.tables().keySet().stream().map(PostgresDialect::quote).toList())
                    + "; migrator uses a publication of that name when it exists with exactly the plan's tables"));
        }
        out.add(walRetention(f));
        return out;
    }

    /** WAL kept for the slot during the copy: the slot holds WAL from its creation until the stream has applied it. */
    static Assessment walRetention(PostgresServerFacts f) {
        Role r = Role.SOURCE;
        long copySeconds = Math.max(1, f.dataBytes() / COPY_BYTES_PER_SECOND);
        String keep = f.settings().getOrDefault("max_slot_wal_keep_size", "-1");
        long keepMb;
        try {
            keepMb = Long.parseLong(keep);
        } catch (NumberFormatException e) {
            keepMb = -1;
        }
        if (f.walBytesPerSecond() < 0) {
            return Assessment.warn(r, "WAL retention", "the WAL rate is unknown (pg_stat_wal not readable); the slot keeps WAL for the whole "
                    + "copy (about " + copySeconds + " s at 20 MB/s)", "watch `migrator status` (WAL retained) and the source's disk during the copy");
        }
        double needed = f.walBytesPerSecond() * copySeconds;
        String estimate = String.format(java.util.Locale.ROOT, "about %.0f MB of WAL during the copy (%.1f MB/s for about %d s)",
                needed / 1_048_576, f.walBytesPerSecond() / 1_048_576, copySeconds);
        if (keepMb >= 0 && keepMb * 1_048_576.0 < needed * 2) {
            return Assessment.fail(r, "WAL retention", "max_slot_wal_keep_size is " + keepMb + " MB, and the slot will hold " + estimate
                    + ": PostgreSQL would invalidate the slot and the stream could not resume", "ALTER SYSTEM SET max_slot_wal_keep_size = '"
                    + Math.max(1024, (long) Math.ceil(needed * 2 / 1_048_576)) + "MB'; SELECT pg_reload_conf(); and check the disk can hold it");
        }
        return keepMb < 0 ? Assessment.warn(r, "WAL retention", "the slot will hold " + estimate + ", and max_slot_wal_keep_size is unlimited: "
                + "a stalled migration keeps WAL until the disk fills", "keep enough free disk, watch `migrator status`, and stop or "
                + "`complete` an abandoned migration so its slot is dropped")
                : Assessment.ok(r, "WAL retention", "max_slot_wal_keep_size " + keepMb + " MB covers " + estimate);
    }

    static List<Assessment> target(Plan plan, PostgresServerFacts target, PostgresServerFacts source, boolean resuming) {
        Role r = Role.TARGET;
        String user = plan.target().user();
        List<Assessment> out = new ArrayList<>();
        out.add(!target.inRecovery() && !target.readOnly() ? Assessment.ok(r, "writable", "the target accepts writes")
                : Assessment.fail(r, "writable", target.inRecovery() ? "the target is a standby (in recovery)" : "default_transaction_read_only is on",
                target.inRecovery() ? "point the plan at the primary" : "ALTER DATABASE " + PostgresDialect.quote(plan.target().database())
                        + " SET default_transaction_read_only = off (or ALTER SYSTEM ...), then reconnect"));
        out.add(target.replicaRole() ? Assessment.ok(r, "replica role", user + " may set session_replication_role: the stream's rows "
                + "do not fire the target's triggers and foreign keys a second time")
                : Assessment.warn(r, "replica role", user + " may not set session_replication_role on the target: while the stream "
                + "replays rows, foreign keys on the target are checked in the source's commit order and its triggers fire (their "
                + "effects are in the stream already)", "GRANT SET ON PARAMETER session_replication_role TO " + PostgresDialect.quote(user)
                + " (PostgreSQL 15+; on RDS grant rds_superuser), or run migrator's target login as a superuser"));
        out.add(target.canCreateInDatabase() ? Assessment.ok(r, "create privilege", user + " may create schemas and tables")
                : Assessment.fail(r, "create privilege", user + " cannot CREATE in database " + plan.target().database(),
                "GRANT CREATE ON DATABASE " + PostgresDialect.quote(plan.target().database()) + " TO " + PostgresDialect.quote(user)));
        if (source != null) {
            List<String> differences = new ArrayList<>();
            for (Map.Entry<TableId, Map<String, String>> table : source.columnTypes().entrySet()) {
                Map<String, String> existing = target.columnTypes().get(table.getKey());
                if (existing != null) {
                    List<io.migrator.core.schema.ColumnDef> columns = table.getValue().entrySet().stream()
                            .map(c -> new io.migrator.core.schema.ColumnDef(c.getKey(), c.getValue(), true, false)).toList();
                    io.migrator.connectors.jdbc.ColumnDifferences.of(columns, existing, String::equals)
                            .forEach(d -> differences.add(table.getKey() + ": " + d));
                }
            }
            out.add(differences.isEmpty() ? Assessment.ok(r, "table definitions", "existing target tables match the source")
                    : Assessment.fail(r, "table definitions", "existing target tables differ from the source: " + String.join("; ", differences),
                    "drop those target tables so migrator creates them from the source, or alter them to match"));
            if (target.versionNum() / 10000 < source.versionNum() / 10000) {
                out.add(Assessment.warn(r, "version", "the target (PostgreSQL " + target.version() + ") is older than the source ("
                        + source.version() + "): types or syntax newer than the target may not load", "prefer a target of the source's "
                        + "major version or later"));
            }
            // an extension the plan's tables use must be on the target (CREATE TABLE, its indexes or its values need it); one
            // they do not use (pg_stat_statements, pg_cron...) is the target's own business: a warning
            List<String> missing = new ArrayList<>();
            List<String> installable = new ArrayList<>();
            List<String> unused = new ArrayList<>();
            for (String ext : source.extensions().keySet()) {
                if (!target.extensions().containsKey(ext)) {
                    (!source.usedExtensions().contains(ext) ? unused : target.availableExtensions().contains(ext) ? installable : missing).add(ext);
                }
            }
            if (!missing.isEmpty()) {
                out.add(Assessment.fail(r, "extensions", "the plan's tables use extensions the target cannot install: " + String.join(", ", missing),
                        "install them on the target server (on RDS/Aurora: check the supported-extensions list), or leave the tables that "
                                + "use them out of the plan"));
            }
            if (!installable.isEmpty()) {
                out.add(Assessment.fail(r, "extensions", "the plan's tables use extensions not created in the target database: "
                        + String.join(", ", installable), String.join("; ", installable.stream().map(e -> "CREATE EXTENSION "
                        + PostgresDialect.quote(e)).toList()) + " (in the target database)"));
            }
            if (!unused.isEmpty()) {
                out.add(Assessment.warn(r, "extensions", "the source has extensions the plan's tables do not use, which the target lacks: "
                        + String.join(", ", unused), "nothing to do for the migration; create them on the target if the application "
                        + "needs them after the switch"));
            }
            if (missing.isEmpty() && installable.isEmpty() && unused.isEmpty()) {
                out.add(Assessment.ok(r, "extensions", source.extensions().isEmpty() ? "the source uses no extension"
                        : "the target has " + String.join(", ", source.extensions().keySet())));
            }
            List<String> filled = new ArrayList<>();
            for (Map.Entry<TableId, PostgresServerFacts.TableFacts> e : target.tables().entrySet()) {
                if (source.tables().containsKey(e.getKey()) && e.getValue().hasRows()) {
                    filled.add(e.getKey().toString());
                }
            }
            if (!filled.isEmpty() && !resuming) {
                out.add(Assessment.fail(r, "empty target", "these target tables already hold rows: " + String.join(", ", filled),
                        "empty them (TRUNCATE) or drop them so migrator creates them; rows there would mix with the copy"));
            } else {
                out.add(Assessment.ok(r, "empty target", resuming ? "the migration resumes" : "no plan table on the target holds rows"));
            }
        }
        return out;
    }
}
