package io.migrator.connectors.postgres;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.DdlJudge.Decision;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;

/**
 * Judges the statements the PostgreSQL stream makes itself (pgoutput carries no DDL text): its TRUNCATEs, replayed as they
 * are, and its relation descriptions ({@link PgOutputStream#RELATION}: the columns the walsender describes a plan table
 * with, before the first change of it in a session and after every change of its shape). A column the source sends and
 * the target's table lacks was added on the source: it is added on the target with the source's definition of it (type,
 * collation, NOT NULL) and the value the source's existing rows read for it (the fast default PostgreSQL stores in
 * {@code pg_attribute.attmissingval}), then the source's default for new rows. A column the source filled row by row
 * when it was added (a volatile default such as {@code gen_random_uuid()}, an identity, or a table rewritten since) cannot
 * be reproduced on the rows the target already holds: the stream stops with what to do. Columns the target has and the
 * source no longer sends are kept, and said in the log.
 */
final class PostgresColumnJudge implements io.migrator.core.spi.DdlJudge {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final DataSource target;
    private final DataSource source;
    /** The target tables' columns, read once and again after a statement changed the table. */
    private final Map<TableId, Set<String>> targetColumns = new HashMap<>();

    PostgresColumnJudge(DataSource target, DataSource source) {
        this.target = target;
        this.source = source;
    }

    /** The statement the stream makes of a relation: {@link PgOutputStream#RELATION} and the table and its columns as JSON. */
    static String relationStatement(TableId table, List<String> columns) {
        Map<String, Object> json = new java.util.LinkedHashMap<>();
        json.put("schema", table.schema());
        json.put("table", table.name());
        json.put("columns", columns);
        try {
            return PgOutputTransactions.RELATION + JSON.writeValueAsString(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public Decision judge(String statement) {
        String summary = io.migrator.core.apply.DdlPolicy.summary(statement);
        if (statement.startsWith(PgOutputTransactions.TRUNCATE)) {
            return Decision.apply(Optional.empty(), summary, List.of(statement));
        }
        if (!statement.startsWith(PgOutputTransactions.RELATION)) {
            return Decision.refuse(Optional.empty(), summary, "the PostgreSQL stream delivers no statement but its own TRUNCATE and "
                    + "relation descriptions");
        }
        TableId table;
        List<String> sent = new ArrayList<>();
        try {
            JsonNode json = JSON.readTree(statement.substring(PgOutputTransactions.RELATION.length()));
            table = new TableId(json.get("schema").asText(), json.get("table").asText());
            json.get("columns").forEach(c -> sent.add(c.asText()));
        } catch (java.io.IOException e) {
            throw new IllegalStateException("unreadable relation description: " + statement, e);
        }
        String name = PostgresDialect.quote(table);
        Set<String> have = targetColumns.computeIfAbsent(table, this::readTargetColumns);
        List<String> missing = sent.stream().filter(c -> !have.contains(c)).toList();
        List<String> notSent = have.stream().filter(c -> !sent.contains(c)).toList();
        if (missing.isEmpty()) {
            return Decision.ignore(Optional.empty(), "the columns of " + name, notSent.isEmpty() ? ""
                    : "the source's table no longer sends " + String.join(", ", notSent) + "; the target keeps "
                            + (notSent.size() == 1 ? "it" : "them") + " (drop by hand what the source dropped, once you are sure)");
        }
        List<String> statements = new ArrayList<>();
        for (String column : missing) {
            SourceColumn c = sourceColumn(table, column);
            String what = "column " + PostgresDialect.quote(column) + " added to " + name + " on the source";
            if (c == null) {
                return Decision.refuse(Optional.empty(), what, "it is no longer in the source's catalog (added and dropped again "
                        + "since); add it to the target's table by hand as it was, then `migrator run` again");
            }
            if (c.identity() || c.defaultExpression() != null && !c.hasMissing()) {
                return Decision.refuse(Optional.empty(), what + " (" + c.type() + (c.defaultExpression() == null ? "" : " DEFAULT "
                        + c.defaultExpression()) + ")", (c.identity() ? "an identity column: the source numbered its existing rows"
                        : "the source filled its existing rows one by one (a volatile default, or the table was rewritten since)")
                        + ", which the rows the target already holds cannot be given the same way; add the column to the target by "
                        + "hand with the source's values (for example from a copy of the table's key and this column), then "
                        + "`migrator run` again");
            }
            StringBuilder add = new StringBuilder("ALTER TABLE ").append(name).append(" ADD COLUMN IF NOT EXISTS ")
                    .append(PostgresDialect.quote(column)).append(' ').append(c.type());
            if (c.collation() != null) {
                add.append(" COLLATE ").append(c.collation());
            }
            if (c.hasMissing()) {
                add.append(" DEFAULT ").append(c.missingLiteral()).append("::").append(c.type());
            }
            if (c.notNull()) {
                add.append(" NOT NULL");
            }
            statements.add(add.toString());
            if (c.hasMissing()) { // the existing rows have their value: new rows get the source's own default
                statements.add("ALTER TABLE " + name + " ALTER COLUMN " + PostgresDialect.quote(column)
                        + (c.defaultExpression() == null ? " DROP DEFAULT" : " SET DEFAULT " + c.defaultExpression()));
            }
        }
        targetColumns.remove(table); // read again: the statements change it
        return Decision.apply(Optional.empty(), "columns " + String.join(", ", missing.stream().map(PostgresDialect::quote).toList())
                + " added to " + name + " on the source", statements);
    }

    /** A column as the source's catalog has it now. */
    record SourceColumn(String type, String collation, boolean notNull, boolean hasMissing, String missingLiteral,
                        String defaultExpression, boolean identity) {
    }

    private SourceColumn sourceColumn(TableId table, String column) {
        String sql = """
                SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasmissing,
                       quote_literal((a.attmissingval::text::text[])[1]), pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '',
                       CASE WHEN a.attcollation <> t.typcollation
                            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
                  FROM pg_attribute a
                  JOIN pg_type t ON t.oid = a.atttypid
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  LEFT JOIN pg_collation co ON co.oid = a.attcollation
                  LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
                 WHERE a.attrelid = to_regclass(?) AND a.attname = ? AND a.attnum > 0 AND NOT a.attisdropped
                """;
        try (Connection c = source.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, PostgresDialect.quote(table));
            ps.setString(2, column);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                return new SourceColumn(rs.getString(1), rs.getString(7), rs.getBoolean(2), rs.getBoolean(3), rs.getString(4),
                        rs.getString(5), rs.getBoolean(6));
            }
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the source's definition of " + PostgresDialect.quote(table) + "." + column, e);
        }
    }

    private Set<String> readTargetColumns(TableId table) {
        String sql = "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped ORDER BY attnum";
        try (Connection c = target.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, PostgresDialect.quote(table));
            Set<String> columns = new LinkedHashSet<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    columns.add(rs.getString(1));
                }
            }
            return columns;
        } catch (SQLException e) {
            throw PostgresErrors.translate("reading the target's columns of " + PostgresDialect.quote(table), e);
        }
    }
}
