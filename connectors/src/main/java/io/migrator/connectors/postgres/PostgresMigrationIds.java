package io.migrator.connectors.postgres;

import io.migrator.core.state.MigrationId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ids of the migrations reading this source database, in {@code migrator.migrations} next to the heartbeat, with the
 * target each feeds. Read at every start, written at a first run, deleted by `migrator complete`. The schema is left out
 * of every plan's tables and of the publication.
 */
final class PostgresMigrationIds {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresMigrationIds.class);
    private static final String TABLE = PostgresDialect.quote(PostgresHeartbeat.SCHEMA) + ".migrations";
    private static final String INSUFFICIENT_PRIVILEGE = "42501";

    private PostgresMigrationIds() {
    }

    static Optional<MigrationId> read(Connection c, String migration) throws SQLException {
        try {
            if (!exists(c)) {
                return Optional.empty();
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT id, target FROM " + TABLE + " WHERE migration = ?")) {
                ps.setString(1, migration);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(new MigrationId(rs.getString(1), rs.getString(2), true)) : Optional.empty();
                }
            }
        } catch (SQLException e) {
            if (!INSUFFICIENT_PRIVILEGE.equals(e.getSQLState())) {
                throw e;
            }
            // the user may not read the schema: this source keeps no ids (as when it cannot create the table); the target judges
            LOG.debug("cannot read {} on the source: {}", TABLE, e.getMessage());
            return Optional.empty();
        }
    }

    /** False, with a warning, when the source refuses (no CREATE on the database): the target then judges alone. */
    static boolean record(Connection c, String migration, MigrationId id) {
        try (Statement st = c.createStatement(); PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE
                + " (migration, id, target, created_at) VALUES (?, ?, ?, now())")) {
            st.execute("CREATE SCHEMA IF NOT EXISTS " + PostgresDialect.quote(PostgresHeartbeat.SCHEMA));
            st.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (migration text PRIMARY KEY, id text NOT NULL, target text NOT NULL, "
                    + "created_at timestamptz NOT NULL)");
            ps.setString(1, migration);
            ps.setString(2, id.id());
            ps.setString(3, id.peer());
            ps.executeUpdate();
            return true;
        } catch (SQLException e) {
            LOG.warn("cannot record migration {}'s id on the source ({}): another plan of the same name reading this database is then "
                    + "noticed only by its target; GRANT CREATE ON DATABASE to the migration user", migration, e.getMessage());
            return false;
        }
    }

    /** Removes the migration's row and, once none is left, the table; what was removed. */
    static java.util.List<String> forget(Connection c, String migration) throws SQLException {
        java.util.List<String> removed = new java.util.ArrayList<>();
        if (!exists(c)) {
            return removed;
        }
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + TABLE + " WHERE migration = ?"); Statement st = c.createStatement()) {
            ps.setString(1, migration);
            if (ps.executeUpdate() > 0) {
                removed.add("migration id in " + TABLE);
            }
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM " + TABLE)) {
                rs.next();
                if (rs.getInt(1) == 0) {
                    st.execute("DROP TABLE " + TABLE);
                    removed.add("table " + TABLE);
                }
            }
        }
        return removed;
    }

    private static boolean exists(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            ps.setString(1, TABLE);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }
}
