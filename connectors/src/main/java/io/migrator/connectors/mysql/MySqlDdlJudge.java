package io.migrator.connectors.mysql;

import io.debezium.relational.ddl.DdlParser;
import io.debezium.connector.mariadb.antlr.MariaDbAntlrDdlParser;
import io.debezium.connector.mariadb.charset.MariaDbCharsetRegistry;
import io.debezium.connector.mysql.antlr.MySqlAntlrDdlParser;
import io.debezium.connector.mysql.charset.MySqlCharsetRegistry;
import io.debezium.relational.Column;
import io.debezium.relational.Table;
import io.debezium.relational.TableId;
import io.debezium.relational.Tables;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.DdlJudge;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which MySQL/MariaDB source DDL the stream replays, decided from the table's definition before and after the statement.
 * The definitions come from Debezium's own DDL parser (the grammar the stream's schema history uses), run over a model
 * of the plan's tables read from the target when the first statement arrives: the target is exactly at the stream's
 * position, where the source's catalog may already be ahead (catch-up). The statement's text is only ever parsed by
 * that grammar, so comments, several clauses and quoting all mean what they mean to the server.
 *
 * <ul>
 *   <li>Columns added (and nothing else of the columns, the primary key or the default character set changed): each
 *       is added on the target with the source's own definition of it, at its place; the statement's other clauses
 *       (ENGINE=, COMMENT=, partitioning, a rebuild) are not replayed, and secondary indexes the source has and the
 *       target lacks are added (ADD INDEX, CREATE INDEX).</li>
 *   <li>A table the plan moves created: created on the target from the source's definition.</li>
 *   <li>A column dropped, renamed or changed (type, length, character set, nullability, default), the primary key
 *       changed, a table dropped or renamed, the default character set changed: refused with a remedy.</li>
 *   <li>No column or key of a plan table changed (table options, comments, an index dropped): not replayed, said once
 *       in the log.</li>
 * </ul>
 */
final class MySqlDdlJudge implements DdlJudge {
    private static final String OWN_TRUNCATE = "TRUNCATE TABLE ";
    private static final Pattern INDEX_LINE = Pattern.compile(
            "^\\s*((?:UNIQUE |FULLTEXT |SPATIAL )?KEY\\s+`((?:[^`]|``)+)`.*?),?\\s*$", Pattern.MULTILINE);

    private static final Pattern PRIMARY_KEY = Pattern.compile("^\\s*PRIMARY KEY\\s*(\\(.*\\))", Pattern.MULTILINE);

    private final DdlParser parser;
    private final Tables model = new Tables();
    private final String database;
    private final TableFilter tables;
    /** The plan's tables on the target, by name, with their SHOW CREATE TABLE. */
    private final Supplier<Map<String, String>> targetTables;
    private final Function<String, Optional<String>> targetCreate;
    private final Supplier<List<TableDef>> sourceTables;
    private boolean loaded;

    MySqlDdlJudge(Engine sourceEngine, String database, TableFilter tables, Supplier<Map<String, String>> targetTables,
                  Function<String, Optional<String>> targetCreate, Supplier<List<TableDef>> sourceTables) {
        // errors thrown, views and comments left out, as the stream's own parser; a charset registry for COLLATE clauses
        this.parser = sourceEngine == Engine.MARIADB
                ? new MariaDbAntlrDdlParser(true, false, false, Tables.TableFilter.includeAll(), new MariaDbCharsetRegistry())
                : new MySqlAntlrDdlParser(true, false, false, Tables.TableFilter.includeAll(), new MySqlCharsetRegistry());
        this.database = database;
        this.tables = tables;
        this.targetTables = targetTables;
        this.targetCreate = targetCreate;
        this.sourceTables = sourceTables;
    }

    /** The statement the stream makes of a source TRUNCATE (a change event, not source text). */
    static String truncate(String table) {
        return OWN_TRUNCATE + MySqlDialect.quote(table);
    }

    @Override
    public Decision judge(String statement) {
        String summary = io.migrator.core.apply.DdlPolicy.summary(statement);
        Optional<String> truncated = ownTruncate(statement);
        if (truncated.isPresent()) {
            return Decision.apply(truncated, summary, List.of(statement));
        }
        load();
        Tables before = model.clone();
        model.drainChanges();
        try {
            parser.setCurrentDatabase(database);
            parser.parse(statement, model);
        } catch (RuntimeException e) {
            model.drainChanges();
            return Decision.refuse(Optional.empty(), summary, "the stream's DDL grammar cannot read it: " + e.getMessage());
        }
        List<TableId> ours = model.drainChanges().stream()
                .filter(id -> database.equalsIgnoreCase(id.catalog()) && tables.includes(database, id.table()))
                .sorted().toList();
        if (ours.isEmpty()) {
            // no column or key of a table the plan moves changed: CREATE INDEX, DROP INDEX, grants, housekeeping, other tables.
            // The grammar keeps no secondary indexes, so those the source has and the target lacks are looked for
            List<String> indexes = new ArrayList<>();
            for (TableDef t : sourceTables.get()) {
                if (model.forTable(new TableId(database, null, t.id().name())) != null) {
                    indexes.addAll(missingIndexes(t.id().name(), t.createStatement()));
                }
            }
            return indexes.isEmpty() ? Decision.ignore(Optional.empty(), summary, "") : Decision.apply(Optional.empty(), summary, indexes);
        }
        List<String> statements = new ArrayList<>();
        List<String> unchanged = new ArrayList<>();
        for (TableId id : ours) {
            Optional<String> table = Optional.of(id.table());
            Table b = before.forTable(id);
            Table a = model.forTable(id);
            if (a == null) {
                return Decision.refuse(table, summary, "it drops or renames table " + id.table());
            }
            Optional<String> refusal = b == null ? created(a, statements) : altered(b, a, statements);
            if (refusal.isPresent()) {
                return Decision.refuse(table, summary, refusal.get());
            }
            if (b != null && statements.isEmpty()) {
                unchanged.add(id.table());
            }
        }
        if (statements.isEmpty()) {
            return Decision.ignore(Optional.of(ours.get(0).table()), summary, "it changes no column or key of " + String.join(", ", unchanged)
                    + " (table options, comments, partitioning, a rebuild, a dropped index): the target keeps its own");
        }
        return Decision.apply(Optional.of(ours.get(0).table()), summary, statements);
    }

    /** Reads the plan's tables on the target into the model, once: the target is where the stream has brought it. */
    private void load() {
        if (loaded) {
            return;
        }
        parser.setCurrentDatabase(database);
        for (Map.Entry<String, String> table : targetTables.get().entrySet()) {
            try {
                parser.parse(table.getValue(), model); // SHOW CREATE TABLE names the table without its schema: the model's is the source's
            } catch (RuntimeException e) {
                throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.PREFLIGHT_FAILED, "the stream's DDL "
                        + "grammar cannot read the target's definition of " + table.getKey() + ", so it cannot tell what source DDL does "
                        + "to it: " + e.getMessage(), "exclude the table from the plan (tables.exclude) and move it by hand, or change "
                        + "its definition to one the grammar reads", e);
            }
        }
        model.drainChanges();
        loaded = true;
    }

    /** A table the plan moves appears: created from the source's definition (later statements are judged as they come). */
    private Optional<String> created(Table a, List<String> statements) {
        String name = a.id().table();
        if (targetCreate.apply(name).isPresent()) {
            return Optional.empty(); // CREATE TABLE IF NOT EXISTS on a table the target has: nothing to do
        }
        Optional<TableDef> source = sourceTable(name);
        if (source.isEmpty()) {
            return Optional.of("it creates table " + name + ", which the source no longer has (dropped or renamed since)");
        }
        List<String> missing = a.columns().stream().map(Column::name)
                .filter(c -> columnLine(source.get().createStatement(), c).isEmpty()).toList();
        if (!missing.isEmpty()) {
            return Optional.of("it creates table " + name + " with columns " + missing + " the source's table no longer has");
        }
        statements.add(source.get().createStatement());
        return Optional.empty();
    }

    /** A table the plan moves changed: only added columns (and indexes) are replayed. */
    private Optional<String> altered(Table b, Table a, List<String> statements) {
        String name = a.id().table();
        if (!lower(b.primaryKeyColumnNames()).equals(lower(a.primaryKeyColumnNames()))) { // the grammar's key: a unique one without a primary
            return Optional.of("it changes the row key of " + name + " (its primary key, or the unique key that stands for it) from "
                    + b.primaryKeyColumnNames() + " to " + a.primaryKeyColumnNames());
        }
        if (!Objects.equals(lowerOrNull(b.defaultCharsetName()), lowerOrNull(a.defaultCharsetName()))) {
            return Optional.of("it changes the default character set of " + name + " from " + b.defaultCharsetName() + " to " + a.defaultCharsetName());
        }
        for (Column col : b.columns()) {
            Column now = a.columnWithName(col.name());
            if (now == null) {
                return Optional.of("it drops (or renames) column " + col.name() + " of " + name);
            }
            if (!describe(col).equals(describe(now))) {
                return Optional.of("it changes column " + col.name() + " of " + name + " from " + describe(col) + " to " + describe(now));
            }
        }
        List<Column> added = a.columns().stream().filter(c -> b.columnWithName(c.name()) == null).toList();
        Optional<TableDef> source = Optional.empty();
        if (!added.isEmpty()) {
            source = sourceTable(name);
            if (source.isEmpty()) {
                return Optional.of("it adds columns to " + name + ", which the source no longer has (dropped or renamed since)");
            }
            List<String> names = a.columns().stream().map(Column::name).toList();
            for (Column col : added) {
                Optional<String> line = columnLine(source.get().createStatement(), col.name());
                if (line.isEmpty()) {
                    return Optional.of("it adds column " + col.name() + " to " + name + ", which the source's table no longer has");
                }
                int at = names.indexOf(col.name());
                statements.add("ALTER TABLE " + MySqlDialect.quote(name) + " ADD COLUMN " + line.get()
                        + (at == 0 ? " FIRST" : " AFTER " + MySqlDialect.quote(names.get(at - 1))));
            }
        }
        if (source.isEmpty()) {
            source = sourceTable(name);
        }
        if (source.isPresent()) {
            Optional<String> sourceKey = primaryKey(source.get().createStatement());
            Optional<String> targetKey = primaryKey(targetCreate.apply(name).orElse(""));
            if (!sourceKey.equals(targetKey)) { // the grammar takes a unique key for the primary one: ADD PRIMARY KEY over it changes nothing there
                return Optional.of("it changes the primary key of " + name + ": " + sourceKey.orElse("none") + " on the source, "
                        + targetKey.orElse("none") + " on the target");
            }
            statements.addAll(missingIndexes(name, source.get().createStatement()));
        }
        return Optional.empty();
    }

    /** ADD of each secondary index the source's table has and the target's lacks (by name). */
    private List<String> missingIndexes(String name, String sourceCreate) {
        Set<String> onTarget = new TreeSet<>();
        Matcher t = INDEX_LINE.matcher(targetCreate.apply(name).orElse(""));
        while (t.find()) {
            onTarget.add(t.group(2));
        }
        List<String> adds = new ArrayList<>();
        Matcher s = INDEX_LINE.matcher(sourceCreate);
        while (s.find()) {
            if (!onTarget.contains(s.group(2))) {
                adds.add("ALTER TABLE " + MySqlDialect.quote(name) + " ADD " + s.group(1));
            }
        }
        return adds;
    }

    /** The column list of the PRIMARY KEY line of a SHOW CREATE TABLE. */
    static Optional<String> primaryKey(String create) {
        Matcher m = PRIMARY_KEY.matcher(create);
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** The column's definition line in a SHOW CREATE TABLE, without its trailing comma. */
    static Optional<String> columnLine(String create, String column) {
        String quoted = MySqlDialect.quote(column);
        for (String line : create.split("\n")) {
            String l = line.strip();
            if (l.startsWith(quoted + " ")) {
                return Optional.of(l.endsWith(",") ? l.substring(0, l.length() - 1) : l);
            }
        }
        return Optional.empty();
    }

    /**
     * The source's table now, read again a few times when it is missing: a later ALTER that copies the table (MyISAM, or
     * ALGORITHM=COPY) swaps it in by renames, and a listing taken between them does not show it.
     */
    private Optional<TableDef> sourceTable(String name) {
        for (int attempt = 0; ; attempt++) {
            Optional<TableDef> found = sourceTables.get().stream().filter(t -> t.id().name().equalsIgnoreCase(name)).findFirst();
            if (found.isPresent() || attempt >= 4) {
                return found;
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return found;
            }
        }
    }

    private static Optional<String> ownTruncate(String statement) {
        if (statement.startsWith(OWN_TRUNCATE + "`") && statement.endsWith("`")) {
            String quoted = statement.substring(OWN_TRUNCATE.length());
            String inner = quoted.substring(1, quoted.length() - 1);
            if (!inner.replace("``", "").contains("`")) {
                return Optional.of(inner.replace("``", "`"));
            }
        }
        return Optional.empty();
    }

    /** A column as it matters to the rows it holds: type, size, character set, nullability, default, generation. */
    static String describe(Column c) {
        StringBuilder s = new StringBuilder(c.typeName());
        if (c.length() >= 0 && !integer(c.typeName())) { // an integer's display width changes nothing it holds
            s.append('(').append(c.length()).append(c.scale().map(x -> "," + x).orElse("")).append(')');
        }
        if (!c.enumValues().isEmpty()) {
            s.append(c.enumValues());
        }
        if (c.charsetName() != null) {
            s.append(" CHARSET ").append(lower(c.charsetName()));
        }
        s.append(c.isOptional() ? " NULL" : " NOT NULL");
        c.defaultValueExpression().ifPresent(d -> s.append(" DEFAULT ").append(d));
        if (c.isGenerated()) {
            s.append(" GENERATED");
        }
        return s.toString();
    }

    private static boolean integer(String typeName) {
        String t = typeName.toUpperCase(Locale.ROOT);
        return t.startsWith("TINYINT") || t.startsWith("SMALLINT") || t.startsWith("MEDIUMINT") || t.startsWith("INT") || t.startsWith("BIGINT");
    }

    private static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    private static String lowerOrNull(String s) {
        return s == null ? null : lower(s);
    }

    private static List<String> lower(List<String> names) {
        return names.stream().map(MySqlDdlJudge::lower).toList();
    }
}
