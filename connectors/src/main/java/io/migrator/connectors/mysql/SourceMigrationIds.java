package io.migrator.connectors.mysql;

import io.migrator.core.state.MigrationId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ids of the migrations reading this source, in {@code migrator.migrations} next to the heartbeat: one row per
 * migration name and source database (two databases of one server may each feed a migration of the same name), with the
 * target it feeds. Read at every start, written at a first run, deleted by `migrator complete`.
 */
final class SourceMigrationIds {
    private static final Logger LOG = LoggerFactory.getLogger(SourceMigrationIds.class);
    private static final String TABLE = MySqlDialect.quote(SourceHeartbeat.DATABASE) + ".`migrations`";
    /**
     * ER_NO_SUCH_TABLE, ER_BAD_DB_ERROR: nothing was ever recorded on this source; ER_TABLEACCESS_DENIED_ERROR,
     * ER_DBACCESS_DENIED_ERROR: the user may not read `migrator` here, so this source keeps no ids (as when it cannot
     * create the table) and the target judges alone. The heartbeat beside it is optional in the same way.
     */
    private static final java.util.Set<Integer> NOTHING_RECORDED = java.util.Set.of(1146, 1049, 1142, 1044);

    private SourceMigrationIds() {
    }

    static Optional<MigrationId> read(Connection c, String migration, String database) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT id, target FROM " + TABLE + " WHERE migration = ? AND source_database = ?")) {
            ps.setString(1, migration);
            ps.setString(2, database);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new MigrationId(rs.getString(1), rs.getString(2), true)) : Optional.empty();
            }
        } catch (SQLException e) {
            if (NOTHING_RECORDED.contains(e.getErrorCode())) {
                return Optional.empty();
            }
            throw e;
        }
    }

    /** False, with a warning, when the source refuses (no CREATE or INSERT on `migrator`): the target then judges alone. */
    static boolean record(Connection c, String migration, String database, MigrationId id) {
        try (Statement st = c.createStatement(); PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE
                + " (migration, source_database, id, target, created_at) VALUES (?, ?, ?, ?, ?)")) {
            st.execute("CREATE DATABASE IF NOT EXISTS " + MySqlDialect.quote(SourceHeartbeat.DATABASE));
            st.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (migration VARCHAR(64) NOT NULL, source_database VARCHAR(64) NOT NULL, "
                    + "id CHAR(36) NOT NULL, target VARCHAR(512) NOT NULL, created_at DATETIME(6) NOT NULL, "
                    + "PRIMARY KEY (migration, source_database)) ENGINE=InnoDB");
            ps.setString(1, migration);
            ps.setString(2, database);
            ps.setString(3, id.id());
            ps.setString(4, id.peer());
            ps.setTimestamp(5, Timestamp.from(Instant.now()));
            ps.executeUpdate();
            return true;
        } catch (SQLException e) {
            LOG.warn("cannot record migration {}'s id on the source ({}): another plan of the same name reading this source is then "
                    + "noticed only by its target; grant CREATE, INSERT, DELETE ON `migrator`.* to the migration user", migration, e.getMessage());
            return false;
        }
    }

    /** Removes the migration's row and, once none is left, the table; what was removed. */
    static java.util.List<String> forget(Connection c, String migration, String database) throws SQLException {
        java.util.List<String> removed = new java.util.ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + TABLE + " WHERE migration = ? AND source_database = ?");
             Statement st = c.createStatement()) {
            ps.setString(1, migration);
            ps.setString(2, database);
            if (ps.executeUpdate() > 0) {
                removed.add("migration id in " + TABLE);
            }
            try (ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM " + TABLE)) {
                rs.next();
                if (rs.getInt(1) == 0) {
                    st.execute("DROP TABLE " + TABLE);
                    removed.add("table " + TABLE);
                }
            }
        } catch (SQLException e) {
            if (!NOTHING_RECORDED.contains(e.getErrorCode())) {
                throw e;
            }
        }
        return removed;
    }
}
