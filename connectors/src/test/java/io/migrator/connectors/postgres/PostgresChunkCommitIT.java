package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.TableFilter;
import io.migrator.core.schema.TableDef;
import io.migrator.core.snapshot.Chunk;
import io.migrator.core.spi.TargetSession;
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
}
