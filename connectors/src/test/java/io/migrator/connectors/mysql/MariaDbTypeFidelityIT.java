package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.testing.MigrationHarness;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every MySQL/MariaDB type round-trips exactly, through the copy and through the binlog stream:
 * rows 1-99 are copied, rows 101-199 are inserted while streaming, and rows 1-9 are updated while streaming.
 */
@ExtendWith(SandboxExtension.class)
class MariaDbTypeFidelityIT {
    private static final String TABLE = """
            CREATE TABLE types (
              id INT PRIMARY KEY,
              dec65 DECIMAL(65,30), dec_neg DECIMAL(10,4),
              bit1 BIT(1), bit64 BIT(64),
              e ENUM('small','medium','large'), s SET('red','green','blue'),
              j JSON, g GEOMETRY, p POINT,
              dt DATETIME(6), ts TIMESTAMP(6) NULL, d DATE, t TIME(6), y YEAR,
              zero_dt DATETIME NULL, zero_d DATE NULL,
              u8 VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, bin BINARY(4), vbin VARBINARY(32),
              big_blob LONGBLOB, big_text LONGTEXT,
              ubig BIGINT UNSIGNED, tiny TINYINT, f FLOAT, dbl DOUBLE,
              fixed CHAR(5), empty_or_null VARCHAR(10),
              gen_virtual INT AS (id * 2) VIRTUAL, gen_stored VARCHAR(80) AS (CONCAT(u8, '!')) PERSISTENT
            )""";

    private static final String INSERT = """
            INSERT INTO types (id, dec65, dec_neg, bit1, bit64, e, s, j, g, p, dt, ts, d, t, y, zero_dt, zero_d, u8, bin, vbin,
              big_blob, big_text, ubig, tiny, f, dbl, fixed, empty_or_null)
            VALUES (?, '12345678901234567890123456789012345.123456789012345678901234567891', -123456.7891, b'1',
              b'1000000000000000000000000000000000000000000000000000000000000001', 'medium', 'red,blue',
              '{"b": [1, 2, {"c": null}], "a": "ü🛒", "n": 1.50}', ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'),
              POINT(1.5, -2.25), '2024-02-29 23:59:59.999999', '2038-01-19 03:14:07.123456', '1000-01-01', '-838:59:59.000001', 2155,
              ?, ?, '𝄞 emoji 😀 and ñ', x'00FF00FF', x'', REPEAT(x'DEADBEEF', ?), REPEAT('é', ?),
              18446744073709551615, -128, 3.3e38 + ? * 1.1754944e-30, 2.2250738585072014e-308, 'ab', ?)""";

    private MariaDbFixture fixture;

    @AfterEach
    void drop() {
        if (fixture != null) {
            fixture.drop();
        }
    }

    private static void insert(Connection c, int from, int to) throws SQLException {
        try (Statement st = c.createStatement()) {
            // Written in a non-UTC session: TIMESTAMP values must still arrive as the same instant.
            st.execute("SET time_zone = '+05:30', sql_mode = 'NO_ENGINE_SUBSTITUTION'");
        }
        try (PreparedStatement ps = c.prepareStatement(INSERT)) {
            for (int id = from; id <= to; id++) {
                ps.setInt(1, id);
                // Zero dates travel through the copy; the binlog stream turns them into NULL (Debezium), so rows written
                // while streaming carry NULL there (docs/architecture.md, type fidelity).
                boolean copied = to < 100;
                ps.setString(2, copied ? "0000-00-00 00:00:00" : null);
                ps.setString(3, copied ? "0000-00-00" : null);
                // Row 7 carries a 64 MB BLOB, row 8 a 64 MB TEXT; the others stay small.
                ps.setInt(4, id == 7 ? 16 * 1024 * 1024 : id % 5);
                ps.setInt(5, id == 8 ? 32 * 1024 * 1024 : id % 7);
                ps.setInt(6, id);
                // NULL, empty, and the characters LOAD DATA's text format escapes (a literal \N must stay two characters)
                ps.setString(7, switch (id % 5) {
                    case 0 -> null;
                    case 1 -> "";
                    case 2 -> "x";
                    case 3 -> "\\N";
                    default -> "t\tn\nr\r\\0\0";
                });
                ps.executeUpdate();
            }
        }
    }

    private void assertSame() throws SQLException {
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            for (Connection c : List.of(s, t)) {
                try (Statement st = c.createStatement()) {
                    st.execute("SET time_zone = '-08:00'");
                }
            }
            String columns = "id, dec65, dec_neg, bit1, bit64, e, s, CAST(j AS CHAR) AS j, ST_AsText(g) AS g, ST_AsText(p) AS p, dt, ts, d, t, y, "
                    + "CAST(zero_dt AS CHAR) AS zero_dt, CAST(zero_d AS CHAR) AS zero_d, u8, bin, vbin, MD5(big_blob) AS blob_md5, "
                    + "LENGTH(big_blob) AS blob_len, MD5(big_text) AS text_md5, CHAR_LENGTH(big_text) AS text_len, ubig, tiny, "
                    + "HEX(f) AS f_hex, f, dbl, fixed, empty_or_null, empty_or_null IS NULL AS is_null, gen_virtual, gen_stored";
            List<List<String>> expected = rows(s, columns);
            List<List<String>> actual = rows(t, columns);
            assertThat(expected).hasSizeGreaterThan(150);
            for (int i = 0; i < expected.size(); i++) {
                assertThat(actual.get(i)).as("row %s", expected.get(i).get(0)).containsExactlyElementsOf(expected.get(i));
            }
            assertThat(actual).hasSameSizeAs(expected);
        }
    }

    private static List<List<String>> rows(Connection c, String columns) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("CREATE OR REPLACE TEMPORARY TABLE v AS SELECT " + columns + " FROM types");
        }
        return MariaDbFixture.rows(c, "v", "id");
    }

    /** The copy streams rows by LOAD DATA LOCAL INFILE where the target allows it, by multi-row REPLACE where not: both exact. */
    @ParameterizedTest(name = "target local_infile {0}")
    @ValueSource(booleans = {true, false})
    void everyTypeRoundTripsThroughCopyAndStream(boolean localInfile, SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "types");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute(TABLE);
            insert(c, 1, 99);
        }
        long loadsBefore = loadStatements();
        try (Connection c = MariaDbFixture.connect(fixture.target); Statement st = c.createStatement()) {
            st.execute("SET GLOBAL local_infile = " + (localInfile ? 1 : 0));
        }
        try (MigrationHarness run = new MigrationHarness(fixture.plan("snapshot: {parallelism: 2, chunkRows: 100}"))) {
            run.awaitPhase(Phase.STREAMING);
            long loads = loadStatements() - loadsBefore;
            if (localInfile) {
                assertThat(loads).as("LOAD DATA statements on the target").isPositive();
            } else {
                assertThat(loads).as("LOAD DATA statements on the target").isZero();
            }
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                insert(c, 101, 199);
                st.execute("UPDATE types SET dec65 = -dec65, bit64 = b'0111', s = '', j = JSON_OBJECT('z', 1), u8 = CONCAT(u8, '🚀'), "
                        + "ts = '1970-01-01 00:00:01.000001', t = '00:00:00', empty_or_null = IF(empty_or_null IS NULL, '', NULL), "
                        + "big_text = REPEAT('ß', 3), p = POINT(-1, 1), zero_dt = '2020-01-01 00:00:00', zero_d = NULL WHERE id < 10");
                st.execute("UPDATE types SET big_blob = REPEAT(x'01', 64 * 1024 * 1024 - 1) WHERE id = 150");
                st.execute("DELETE FROM types WHERE id IN (5, 105)");
            }
            run.awaitCaughtUp();
            assertSame();
        } finally {
            try (Connection c = MariaDbFixture.connect(fixture.target); Statement st = c.createStatement()) {
                st.execute("SET GLOBAL local_infile = 1");
            }
        }
    }

    private long loadStatements() throws SQLException {
        try (Connection c = MariaDbFixture.connect(fixture.target); Statement st = c.createStatement();
             java.sql.ResultSet rs = st.executeQuery("SHOW GLOBAL STATUS LIKE 'Com_load'")) {
            assertThat(rs.next()).isTrue();
            return rs.getLong(2);
        }
    }

    private static final String MORE = """
            CREATE TABLE more_types (
              id INT PRIMARY KEY,
              si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED, iu INT UNSIGNED, tiu TINYINT UNSIGNED,
              bi BIGINT, boo BOOLEAN, du DECIMAL(8,3) UNSIGNED, fl FLOAT(7,3), dblu DOUBLE UNSIGNED, bit8 BIT(8),
              tb TINYBLOB, b BLOB, mb MEDIUMBLOB, tt TINYTEXT, tx TEXT, mt MEDIUMTEXT,
              l1 VARCHAR(20) CHARACTER SET latin1, nch NCHAR(3), u16 VARCHAR(10) CHARACTER SET utf16, asc1 CHAR(4) CHARACTER SET ascii,
              ls LINESTRING, mp MULTIPOINT, mls MULTILINESTRING, mpg MULTIPOLYGON, gc GEOMETRYCOLLECTION,
              t0 TIME, dt0 DATETIME, ts0 TIMESTAMP NULL, y4 YEAR(4)
            )""";

    private static void insertMore(Connection c, int from, int to) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                INSERT INTO more_types VALUES (?, -32768 + ?, 65535 - ?, -8388608 + ?, 16777215 - ?, 4294967295 - ?, 255 - ?,
                  -9223372036854775808 + ?, ? % 2, 99999.999 - ?, 1234.567, 1.7976931348623157e308, b'10101010',
                  x'00FF', REPEAT(x'AB', ?), REPEAT(x'CD', 70000), 'tiny ☃', REPEAT('t', 1000), REPEAT('m', 70000),
                  'café ñ', 'abc', 'ü€𝄞', 'ab\\0',
                  ST_GeomFromText(CONCAT('LINESTRING(0 0, 1 ', ?, ')')), ST_GeomFromText('MULTIPOINT(0 0, 1 1)'),
                  ST_GeomFromText('MULTILINESTRING((0 0, 1 1), (2 2, 3 3))'),
                  ST_GeomFromText('MULTIPOLYGON(((0 0, 4 0, 4 4, 0 4, 0 0)), ((5 5, 6 5, 6 6, 5 5)))'),
                  ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(0 0, 2 2))'),
                  '838:59:59', '9999-12-31 23:59:59', '2038-01-19 03:14:07', 1901)""")) {
            for (int id = from; id <= to; id++) {
                int at = 1;
                ps.setInt(at++, id);
                for (int i = 0; i < 9; i++) {
                    ps.setInt(at++, id % 200);
                }
                ps.setInt(at++, id % 200);
                ps.setInt(at++, id * 10);
                ps.setInt(at, id);
                ps.executeUpdate();
            }
        }
    }

    /** The types the first table leaves out: the rest of MariaDB 10.11's list (INET6, INET4 and UUID are refused by plan check). */
    @org.junit.jupiter.api.Test
    void theRestOfMariaDbsTypesRoundTripThroughCopyAndStream(SandboxServers servers) throws Exception {
        fixture = new MariaDbFixture(servers, "moretypes");
        try (Connection c = fixture.source(); Statement st = c.createStatement()) {
            st.execute(MORE);
            insertMore(c, 1, 20);
        }
        try (MigrationHarness run = new MigrationHarness(fixture.plan(""))) {
            run.awaitPhase(Phase.STREAMING);
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                insertMore(c, 101, 120);
                st.execute("UPDATE more_types SET si = 32767, siu = 0, mi = 8388607, miu = 0, iu = 0, tiu = 0, bi = 9223372036854775807, "
                        + "du = 0.001, fl = -0.5, dblu = 0, bit8 = b'1', tb = '', b = NULL, tt = '', l1 = 'ÿ', u16 = '', "
                        + "ls = ST_GeomFromText('LINESTRING(9 9, 8 8)'), t0 = '-838:59:59', dt0 = '1000-01-01 00:00:00', "
                        + "ts0 = '1970-01-01 00:00:01', y4 = 2155 WHERE id IN (3, 103)");
                st.execute("DELETE FROM more_types WHERE id IN (4, 104)");
            }
            run.awaitCaughtUp();
        }
        String columns = "id, si, siu, mi, miu, iu, tiu, bi, boo, du, CAST(fl AS DECIMAL(12,3)) AS fl, dblu, bit8 + 0 AS bit8, "
                + "HEX(tb) AS tb, MD5(b) AS b, LENGTH(b) AS b_len, MD5(mb) AS mb, HEX(tt) AS tt, MD5(tx) AS tx, MD5(mt) AS mt, "
                + "HEX(l1) AS l1, HEX(nch) AS nch, HEX(u16) AS u16, HEX(asc1) AS asc1, ST_AsText(ls) AS ls, ST_AsText(mp) AS mp, "
                + "ST_AsText(mls) AS mls, ST_AsText(mpg) AS mpg, ST_AsText(gc) AS gc, t0, dt0, ts0, y4";
        try (Connection s = fixture.source(); Connection t = fixture.target()) {
            List<List<String>> expected = moreRows(s, columns);
            assertThat(expected).hasSize(38);
            assertThat(moreRows(t, columns)).containsExactlyElementsOf(expected);
        }
    }

    private static List<List<String>> moreRows(Connection c, String columns) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("SET time_zone = '-08:00'");
            st.execute("CREATE OR REPLACE TEMPORARY TABLE v AS SELECT " + columns + " FROM more_types");
        }
        return MariaDbFixture.rows(c, "v", "id");
    }
}
