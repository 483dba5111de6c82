package io.migrator.connectors.mysql;

import com.zaxxer.hikari.HikariDataSource;
import io.migrator.core.plan.Plan;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the time into {@code migrator.heartbeat} on the source twice a second. The row travels through
 * the binlog like any change, so the stream keeps moving on an idle source and lag is measured from
 * the source's own clock with sub-second resolution (the pt-heartbeat idea).
 */
final class SourceHeartbeat implements AutoCloseable {
    static final String DATABASE = "migrator";
    static final String TABLE = "heartbeat";
    private static final Logger LOG = LoggerFactory.getLogger(SourceHeartbeat.class);

    private final HikariDataSource pool;
    private final String migration;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "source-heartbeat");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean warned;

    SourceHeartbeat(Plan plan) {
        this.migration = plan.name();
        this.pool = MySqlPools.open(plan.source(), "migrator-heartbeat", 1, "SET SESSION time_zone = '+00:00'");
    }

    /** Creates the table and starts beating; returns false (and logs why) when the source refuses writes. */
    boolean start() {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE IF NOT EXISTS `" + DATABASE + "`");
            st.execute("CREATE TABLE IF NOT EXISTS `" + DATABASE + "`.`" + TABLE + "` (migration VARCHAR(64) PRIMARY KEY, "
                    + "ts DATETIME(6) NOT NULL) ENGINE=InnoDB");
        } catch (SQLException e) {
            LOG.warn("no heartbeat on the source ({}): lag is measured only while changes flow; grant CREATE, INSERT, UPDATE "
                    + "ON `migrator`.* to the migration user for a true lag on an idle source", e.getMessage());
            return false;
        }
        timer.scheduleWithFixedDelay(this::beat, 0, 500, TimeUnit.MILLISECONDS);
        return true;
    }

    private void beat() {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("INSERT INTO `" + DATABASE + "`.`" + TABLE
                + "` (migration, ts) VALUES (?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE ts = VALUES(ts)")) {
            ps.setString(1, migration);
            ps.executeUpdate();
            warned = false;
        } catch (SQLException e) {
            if (!warned) {
                LOG.warn("heartbeat on the source failed: {}", e.getMessage());
                warned = true;
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
        pool.close();
    }
}
