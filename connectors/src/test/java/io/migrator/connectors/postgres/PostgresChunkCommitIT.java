package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.state.Chunk;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A chunk copied a second time after its first copy committed (a retry after a commit whose answer was lost) is
 * discarded, not committed again: target tables have no primary key during the copy, so it would leave every row twice
 * and the key could never be built.
 */
@ExtendWith(SandboxExtension.class)
class PostgresChunkCommitIT {
    @Test
    void aChunkCommittedTwiceKeepsOneCopyOfItsRows(SandboxServers servers) throws Exception {
        try (PostgresFixture fixture = new PostgresFixture(servers, "chunk2")) {
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE \"odd table\" (id int PRIMARY KEY, v text)");
            }
            TableDef table;
            try (Connection c = fixture.source()) {
                table = PostgresSchema.tables(c, TableFilter.ALL).stream().filter(t -> t.id().name().equals("odd table")).findFirst().orElseThrow();
            }
            Chunk chunk = new Chunk(0, null, null);
            try (PostgresTarget target = new PostgresTarget(fixture.plan(""))) {
                target.prepare();
                target.createTable(table);
                target.saveChunkPlan(table.id(), List.of(chunk));
                for (int attempt = 0; attempt < 2; attempt++) {
                    try (TargetSession.ChunkWriter writer = target.beginChunk(table, chunk)) {
                        byte[] rows = "1\tone\n2\ttwo\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
                        writer.raw(PostgresSource.FORMAT_TEXT).write(rows, rows.length);
                        writer.commit(2);
                    }
                }
                assertThat(target.chunks(table.id())).singleElement().satisfies(p -> assertThat(p.done()).isTrue());
            }
            try (Connection t = fixture.target(); Statement st = t.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*), count(DISTINCT id) FROM \"odd table\"")) {
                rs.next();
                assertThat(rs.getLong(1)).as("rows on the target").isEqualTo(2);
                assertThat(rs.getLong(2)).isEqualTo(2);
            }
        }
    }

    /**
     * Another worker takes the migration over (its claim writes a new token): this worker's next chunk and its next phase
     * change are refused inside their own transactions, and it is told it lost the claim.
     */
    @Test
    void aWorkerThatLostItsClaimCommitsNoChunkAndNoPhase(SandboxServers servers) throws Exception {
        try (PostgresFixture fixture = new PostgresFixture(servers, "fenced")) {
            try (Connection c = fixture.source(); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE items (id int PRIMARY KEY, v text)");
            }
            TableDef table;
            try (Connection c = fixture.source()) {
                table = PostgresSchema.tables(c, TableFilter.ALL).stream().filter(t -> t.id().name().equals("items")).findFirst().orElseThrow();
            }
            Chunk chunk = new Chunk(0, null, null);
            java.util.concurrent.atomic.AtomicReference<io.migrator.core.error.MigratorException> lost = new java.util.concurrent.atomic.AtomicReference<>();
            try (PostgresTarget target = new PostgresTarget(fixture.plan(""))) {
                target.prepare();
                target.createTable(table);
                target.saveChunkPlan(table.id(), List.of(chunk));
                target.saveState(new io.migrator.core.state.MigrationState(table.id().name(), io.migrator.core.state.Phase.SNAPSHOT, null,
                        java.time.Instant.now(), "copying"));
                try (io.migrator.core.spi.WorkerLease lease = target.claim(io.migrator.core.state.WorkerRecord.self("127.0.0.1:1"), lost::set)) {
                    try (Connection t = fixture.target(); Statement st = t.createStatement()) {
                        assertThat(st.executeUpdate("UPDATE migrator.worker SET token = 'another worker'")).isEqualTo(1);
                    }
                    try (TargetSession.ChunkWriter writer = target.beginChunk(table, chunk)) {
                        byte[] rows = "1\tone\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
                        writer.raw(PostgresSource.FORMAT_TEXT).write(rows, rows.length);
                        org.assertj.core.api.Assertions.assertThatThrownBy(() -> writer.commit(1))
                                .isInstanceOfSatisfying(io.migrator.core.error.MigratorException.class,
                                        e -> assertThat(e.code()).isEqualTo(io.migrator.core.error.ErrorCode.WORKER_RUNNING));
                    }
                    assertThat(lost.get()).as("the worker was told").isNotNull();
                    org.assertj.core.api.Assertions.assertThatThrownBy(() -> target.saveState(new io.migrator.core.state.MigrationState(
                            table.id().name(), io.migrator.core.state.Phase.FAILED, null, java.time.Instant.now(), "failed")))
                            .isInstanceOf(io.migrator.core.error.MigratorException.class);
                }
                assertThat(target.chunks(table.id())).singleElement().satisfies(p -> assertThat(p.done()).isFalse());
            }
            try (Connection t = fixture.target(); Statement st = t.createStatement()) {
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM items")) {
                    rs.next();
                    assertThat(rs.getLong(1)).as("the refused chunk's rows").isZero();
                }
                try (ResultSet rs = st.executeQuery("SELECT phase FROM migrator.state")) {
                    rs.next();
                    assertThat(rs.getString(1)).as("no FAILED over the new owner's state").isEqualTo("SNAPSHOT");
                }
            }
        }
    }
}
