package io.migrator.connectors.jdbc;

import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.MigratorException;
import io.migrator.core.state.MigrationState;
import io.migrator.core.state.Phase;
import io.migrator.core.state.ValidationRecord;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The bookkeeping rows every SQL target keeps in its {@code migrator} schema (database, on MySQL), in the same shape on
 * each engine: {@code state} and {@code journal}, {@code checkpoint} (written by the target with the changes it covers),
 * {@code validation}. Chunk plans differ per engine and stay with each target. A {@link Dialect} supplies what differs:
 * upsert syntax, the clock expression, how a missing schema shows and how errors translate.
 */
public final class Bookkeeping {
    /** What differs between engines. */
    public interface Dialect {
        /** Upsert of (migration, phase, start_position, detail, updated_at) that keeps the stored start position when given null. */
        String upsertState();

        /** The SQLException says the bookkeeping objects do not exist: nothing was recorded there yet. */
        boolean missing(SQLException e);

        MigratorException translate(String doing, SQLException e);
    }

    /** The tables holding rows per migration, in the order {@link #forget} deletes from them. */
    public static final List<String> TABLES = List.of("state", "journal", "chunks", "checkpoint", "validation", "worker", "identity");

    private final DataSource pool;
    private final String migration;
    private final WorkerClaim.Dialect dialect;
    /** This worker's claim once it has one; null for a target driven without a worker (tests, thin commands). */
    private volatile WorkerClaim claim;

    public Bookkeeping(DataSource pool, String migration, WorkerClaim.Dialect dialect) {
        this.pool = pool;
        this.migration = migration;
        this.dialect = dialect;
    }

    /** Claims the migration for this worker (see {@link WorkerClaim}); from then on {@link #fence} checks that it still holds it. */
    public io.migrator.core.spi.WorkerLease claim(io.migrator.core.state.WorkerRecord self,
            java.util.function.Consumer<MigratorException> lost) {
        WorkerClaim taken = WorkerClaim.claim(dialect, migration, self, lost);
        claim = taken;
        return taken;
    }

    /** The worker holding the migration's claim, as it registered itself; empty when none runs. */
    public Optional<io.migrator.core.state.WorkerRecord> registeredWorker() {
        return WorkerClaim.holder(dialect, pool, migration);
    }

    /**
     * Called first in each transaction that writes for the migration (batches, chunk done marks, phases, replayed DDL):
     * refuses it once another worker has claimed the migration. Nothing to check before this worker claimed anything.
     */
    public void fence(Connection c) throws SQLException {
        WorkerClaim held = claim;
        if (held != null) {
            held.fence(c);
        }
    }

    public Optional<MigrationState> loadState() {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT phase, start_position, updated_at, detail FROM migrator.state WHERE migration = ?")) {
            ps.setString(1, migration);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                String start = rs.getString(2);
                Phase phase = Phase.valueOf(rs.getString(1));
                return Optional.of(new MigrationState(migration, phase, start == null ? null : new SourcePosition(start),
                        rs.getTimestamp(3).toInstant(), rs.getString(4), phase == Phase.FAILED ? failedIn(c) : null));
            }
        } catch (SQLException e) {
            if (dialect.missing(e)) {
                return Optional.empty();
            }
            throw dialect.translate("reading the migration state", e);
        }
    }

    /** The phase a failed migration was in: the last one its journal recorded before the failure; null when none was. */
    private Phase failedIn(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT phase FROM migrator.journal WHERE migration = ? AND phase <> ? "
                + "ORDER BY id DESC LIMIT 1")) {
            ps.setString(1, migration);
            ps.setString(2, Phase.FAILED.name());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Phase.valueOf(rs.getString(1)) : null;
            }
        }
    }

    /** The migration's id as its first run recorded it here, with its source (see {@code MigrationIds} in core). */
    public Optional<io.migrator.core.state.MigrationId> migrationId() {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT id, source, source_keeps_id FROM migrator.identity WHERE migration = ?")) {
            ps.setString(1, migration);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new io.migrator.core.state.MigrationId(rs.getString(1), rs.getString(2), rs.getBoolean(3)))
                        : Optional.empty();
            }
        } catch (SQLException e) {
            if (dialect.missing(e)) {
                return Optional.empty();
            }
            throw dialect.translate("reading the migration's id", e);
        }
    }

    public void recordMigrationId(io.migrator.core.state.MigrationId id) {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "INSERT INTO migrator.identity (migration, id, source, source_keeps_id, created_at) VALUES (?, ?, ?, ?, ?)")) {
            ps.setString(1, migration);
            ps.setString(2, id.id());
            ps.setString(3, id.peer());
            ps.setBoolean(4, id.peerKeepsId());
            ps.setTimestamp(5, Timestamp.from(java.time.Instant.now()));
            ps.executeUpdate();
        } catch (SQLException e) {
            throw dialect.translate("recording the migration's id", e);
        }
    }

    /** The state row and a journal entry, in one transaction. */
    public void saveState(MigrationState state) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try {
                fence(c); // a worker that lost its claim writes no phase (no FAILED) over the new owner's
            } catch (RuntimeException e) {
                io.migrator.connectors.jdbc.JdbcErrors.rollbackAfter(c, e);
                throw e;
            }
            try (PreparedStatement ps = c.prepareStatement(dialect.upsertState());
                 PreparedStatement journal = c.prepareStatement("INSERT INTO migrator.journal (migration, phase, detail, at) VALUES (?, ?, ?, ?)")) {
                Timestamp now = Timestamp.from(state.updatedAt());
                ps.setString(1, migration);
                ps.setString(2, state.phase().name());
                ps.setString(3, state.startPosition() == null ? null : state.startPosition().text());
                ps.setString(4, state.detail());
                ps.setTimestamp(5, now);
                ps.executeUpdate();
                journal.setString(1, migration);
                journal.setString(2, state.phase().name());
                journal.setString(3, state.detail());
                journal.setTimestamp(4, now);
                journal.executeUpdate();
            }
            c.commit();
        } catch (SQLException e) {
            throw dialect.translate("saving the migration state", e);
        }
    }

    public List<MigrationState> journal() {
        List<MigrationState> entries = new ArrayList<>();
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT phase, at, detail FROM migrator.journal WHERE migration = ? ORDER BY id")) {
            ps.setString(1, migration);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    entries.add(new MigrationState(migration, Phase.valueOf(rs.getString(1)), null, rs.getTimestamp(2).toInstant(), rs.getString(3)));
                }
            }
        } catch (SQLException e) {
            if (dialect.missing(e)) {
                return List.of();
            }
            throw dialect.translate("reading the migration journal", e);
        }
        return entries;
    }

    public Optional<SourcePosition> checkpoint() {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT position FROM migrator.checkpoint WHERE migration = ?")) {
            ps.setString(1, migration);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new SourcePosition(rs.getString(1))) : Optional.empty();
            }
        } catch (SQLException e) {
            if (dialect.missing(e)) {
                return Optional.empty();
            }
            throw dialect.translate("reading the checkpoint", e);
        }
    }

    public long appliedEvents() {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT events FROM migrator.checkpoint WHERE migration = ?")) {
            ps.setString(1, migration);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        } catch (SQLException e) {
            if (dialect.missing(e)) {
                return 0;
            }
            throw dialect.translate("reading the checkpoint", e);
        }
    }

    public void saveValidation(ValidationRecord record) {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("INSERT INTO migrator.validation (migration, state, "
                + "started_at, finished_at, rows_compared, mismatches, parity_percent, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, migration);
            ps.setString(2, record.state());
            ps.setString(3, record.startedAt());
            ps.setString(4, record.finishedAt());
            ps.setLong(5, record.rowsCompared());
            ps.setLong(6, record.mismatches());
            if (record.parityPercent() == null) {
                ps.setNull(7, java.sql.Types.DOUBLE);
            } else {
                ps.setDouble(7, record.parityPercent());
            }
            ps.setString(8, record.reportJson());
            ps.executeUpdate();
        } catch (SQLException e) {
            throw dialect.translate("saving the validation result", e);
        }
    }

    public Optional<ValidationRecord> lastValidation() {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT state, started_at, finished_at, rows_compared, "
                + "mismatches, parity_percent, report FROM migrator.validation WHERE migration = ? ORDER BY id DESC LIMIT 1")) {
            ps.setString(1, migration);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                double parity = rs.getDouble(6);
                Double parityPercent = rs.wasNull() ? null : parity;
                return Optional.of(new ValidationRecord(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4), rs.getLong(5),
                        parityPercent, rs.getString(7)));
            }
        } catch (SQLException e) {
            if (dialect.missing(e)) {
                return Optional.empty();
            }
            throw dialect.translate("reading the last validation", e);
        }
    }

    /**
     * Deletes this migration's rows from every bookkeeping table in one transaction; returns what it removed, and whether
     * any other migration's rows remain (the caller drops the schema when none do).
     */
    public Forgotten forget() {
        List<String> removed = new ArrayList<>();
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            long left = 0;
            java.util.Set<String> present = new java.util.HashSet<>();
            try (ResultSet rs = st.executeQuery("SELECT table_name FROM information_schema.tables WHERE table_schema = 'migrator'")) {
                while (rs.next()) {
                    present.add(rs.getString(1).toLowerCase(java.util.Locale.ROOT));
                }
            }
            if (present.isEmpty()) {
                return new Forgotten(List.of(), true); // no bookkeeping here (any more): nothing to remove, no schema to drop
            }
            for (String table : TABLES) {
                if (!present.contains(table)) {
                    continue; // made by an older build, or never needed
                }
                try (PreparedStatement ps = c.prepareStatement("DELETE FROM migrator." + table + " WHERE migration = ?")) {
                    ps.setString(1, migration);
                    int rows = ps.executeUpdate();
                    if (rows > 0) {
                        removed.add(rows + " rows of migrator." + table);
                    }
                }
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM migrator." + table)) {
                    rs.next();
                    left += rs.getLong(1);
                }
            }
            c.commit();
            return new Forgotten(removed, left > 0);
        } catch (SQLException e) {
            if (dialect.missing(e)) {
                return new Forgotten(List.of(), true);
            }
            throw dialect.translate("removing the bookkeeping of " + migration, e);
        }
    }

    /** What {@link #forget} removed, and whether other migrations still keep rows (then the schema stays). */
    public record Forgotten(List<String> removed, boolean othersRemain) {
    }
}
