package io.migrator.connectors.postgres;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.migrator.core.schema.TableDef;
import io.migrator.core.state.Chunk;
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Chunk plans of PostgreSQL tables and the predicates that read them. COPY takes no bind parameters, so bounds are
 * inlined as quoted literals cast to the key column's type (sessions run with standard_conforming_strings on).
 * <ul>
 *   <li>one integer key column: equal arithmetic ranges between min and max, the ends open;</li>
 *   <li>any other primary key: boundaries every {@code chunkRows} keys in key order, as a JSON array of text values,
 *       compared as a row ({@code (a, b) > ('x'::text, '5'::int)}), which follows the same order and collation;</li>
 *   <li>no key: ranges of heap pages ({@code ctid:page}), read with TID range scans.</li>
 * </ul>
 * A chunk is rows with key &gt; lower and &lt;= upper (pages: lower &lt;= page &lt; upper); null bounds are open.
 */
final class PostgresChunks {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> INTEGERS = Set.of("smallint", "integer", "bigint");
    private static final String PAGE = "ctid:";

    private PostgresChunks() {
    }

    static boolean integerKey(TableDef table) {
        return table.key().size() == 1 && INTEGERS.contains(table.column(table.key().get(0)).type());
    }

    static List<Chunk> plan(Connection c, TableDef table, int chunkRows) throws SQLException {
        String t = PostgresDialect.quote(table.id());
        if (table.key().isEmpty()) {
            return pages(c, table, chunkRows);
        }
        if (integerKey(table)) {
            String k = PostgresDialect.quote(table.key().get(0));
            BigInteger min;
            BigInteger max;
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT min(" + k + ")::text, max(" + k + ")::text FROM " + t)) {
                rs.next();
                if (rs.getString(1) == null) {
                    return List.of(new Chunk(1, null, null));
                }
                min = new BigInteger(rs.getString(1));
                max = new BigInteger(rs.getString(2));
            }
            long rows = rows(c, table);
            long n = Math.max(1, (rows + chunkRows - 1) / chunkRows);
            BigInteger span = max.subtract(min).add(BigInteger.ONE);
            BigInteger step = span.add(BigInteger.valueOf(n - 1)).divide(BigInteger.valueOf(n)).max(BigInteger.ONE);
            List<Chunk> chunks = new ArrayList<>();
            String lower = null;
            for (BigInteger upper = min.subtract(BigInteger.ONE).add(step); upper.compareTo(max) < 0; upper = upper.add(step)) {
                chunks.add(new Chunk(chunks.size() + 1, lower, upper.toString()));
                lower = upper.toString();
            }
            chunks.add(new Chunk(chunks.size() + 1, lower, null));
            return chunks;
        }
        String keys = String.join(", ", table.key().stream().map(PostgresDialect::quote).toList());
        String texts = String.join(", ", table.key().stream().map(k -> PostgresDialect.quote(k) + "::text").toList());
        List<Chunk> chunks = new ArrayList<>();
        String lower = null;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT " + texts + " FROM (SELECT " + keys
                + ", row_number() OVER (ORDER BY " + keys + ") AS migrator_rn FROM " + t + ") s WHERE migrator_rn % " + chunkRows
                + " = 0 ORDER BY migrator_rn")) {
            while (rs.next()) {
                List<String> values = new ArrayList<>();
                for (int i = 1; i <= table.key().size(); i++) {
                    values.add(rs.getString(i));
                }
                String upper = encode(values);
                chunks.add(new Chunk(chunks.size() + 1, lower, upper));
                lower = upper;
            }
        }
        chunks.add(new Chunk(chunks.size() + 1, lower, null));
        return chunks;
    }

    private static List<Chunk> pages(Connection c, TableDef table, int chunkRows) throws SQLException {
        long pages;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_relation_size('"
                + PostgresDialect.quote(table.id()).replace("'", "''") + "'::regclass) / current_setting('block_size')::bigint")) {
            rs.next();
            pages = rs.getLong(1);
        }
        long rows = rows(c, table);
        long perChunk = rows <= 0 ? Math.max(1, pages) : Math.max(1, pages * chunkRows / rows);
        List<Chunk> chunks = new ArrayList<>();
        String lower = null;
        for (long upper = perChunk; upper < pages; upper += perChunk) {
            chunks.add(new Chunk(chunks.size() + 1, lower, PAGE + upper));
            lower = PAGE + upper;
        }
        chunks.add(new Chunk(chunks.size() + 1, lower, null));
        return chunks;
    }

    private static long rows(Connection c, TableDef table) throws SQLException {
        if (table.estimatedRows() > 0) {
            return table.estimatedRows();
        }
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM " + PostgresDialect.quote(table.id()))) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** The SQL predicate of a chunk over the source table; empty for a chunk without bounds. */
    static String where(TableDef table, Chunk chunk) {
        List<String> parts = new ArrayList<>();
        if (table.key().isEmpty()) {
            if (chunk.lower() != null) {
                parts.add("ctid >= '(" + Long.parseLong(chunk.lower().substring(PAGE.length())) + ",0)'::tid");
            }
            if (chunk.upper() != null) {
                parts.add("ctid < '(" + Long.parseLong(chunk.upper().substring(PAGE.length())) + ",0)'::tid");
            }
            return String.join(" AND ", parts);
        }
        if (integerKey(table)) {
            String k = PostgresDialect.quote(table.key().get(0));
            if (chunk.lower() != null) {
                parts.add(k + " > " + new BigInteger(chunk.lower()));
            }
            if (chunk.upper() != null) {
                parts.add(k + " <= " + new BigInteger(chunk.upper()));
            }
            return String.join(" AND ", parts);
        }
        String row = "(" + String.join(", ", table.key().stream().map(PostgresDialect::quote).toList()) + ")";
        if (chunk.lower() != null) {
            parts.add(row + " > " + literalRow(table, chunk.lower()));
        }
        if (chunk.upper() != null) {
            parts.add(row + " <= " + literalRow(table, chunk.upper()));
        }
        return String.join(" AND ", parts);
    }

    private static String literalRow(TableDef table, String encoded) {
        List<String> values = decode(encoded);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < table.key().size(); i++) {
            out.add(literal(values.get(i)) + "::" + table.column(table.key().get(i)).type());
        }
        return "ROW(" + String.join(", ", out) + ")";
    }

    static String literal(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    static String encode(List<String> values) {
        try {
            return JSON.writeValueAsString(values);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<String> decode(String encoded) {
        try {
            return List.of(JSON.readValue(encoded, String[].class));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("not a chunk bound: " + encoded, e);
        }
    }
}
