package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.ChangeBatch;
import io.migrator.core.plan.Plan;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * How pgoutput's transactions become batches: only a transaction that fills a batch by itself goes out open (its target
 * transaction held across batches); a backlog of small transactions goes in closed batches that end at a commit, so the
 * target commits as it goes (the hot-key catch-up that became one target transaction before).
 */
class PgOutputTransactionsTest {
    private static final TableDef T = new TableDef(new TableId("public", "t"), List.of(new ColumnDef("id", "int", false, false)),
            List.of("id"), "", 0);
    private final List<ChangeBatch> batches = new ArrayList<>();
    private final PgOutputTransactions transactions = new PgOutputTransactions(List.of(T),
            PostgresPosition.of(Map.of("lsn", 100L)), "test_slot", null, "orders");
    private long lsn = 1_000;

    @Test
    void aBacklogOfSmallTransactionsGoesInClosedBatchesEndingAtCommits() throws Exception {
        relation();
        for (int i = 0; i < 3 * PgOutputTransactions.MAX_BATCH; i++) {
            begin(i + 1);
            insert(i);
            commit();
        }
        transactions.flush(batches::add);
        List<ChangeBatch> rows = batches.stream().filter(b -> b.ddl().isEmpty()).toList();
        assertThat(rows).as("no batch of finished transactions is held open").noneMatch(ChangeBatch::open);
        assertThat(rows.stream().mapToInt(b -> b.changes().size()).sum()).isEqualTo(3 * PgOutputTransactions.MAX_BATCH);
        assertThat(rows).allMatch(b -> !PostgresPosition.offset(b.position()).containsKey("txId"), "every batch ends at a commit");
        assertThat(rows.size()).as("batches of about MAX_BATCH, not one per transaction").isBetween(3, 5);
    }

    @Test
    void aTransactionThatFillsABatchByItselfGoesOutOpenUntilItsCommit() throws Exception {
        relation();
        begin(1);
        for (int i = 0; i < PgOutputTransactions.MAX_BATCH + 10; i++) {
            insert(i);
        }
        commit();
        transactions.flush(batches::add);
        List<ChangeBatch> rows = batches.stream().filter(b -> b.ddl().isEmpty()).toList();
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0).open()).as("the first batch ends inside the transaction").isTrue();
        assertThat(rows.get(0).changes()).hasSize(PgOutputTransactions.MAX_BATCH);
        assertThat(rows.get(1).open()).as("the commit closes it").isFalse();
        assertThat(rows.get(1).changes()).hasSize(10);
    }

    @Test
    void aTableDescribedAgainUnchangedInsideATransactionLeavesItWhole() throws Exception {
        relation();
        begin(1);
        for (int i = 0; i < PgOutputTransactions.MAX_BATCH + 10; i++) {
            insert(i);
        }
        relation(); // the same description again (the walsender resends it after an invalidation of the table, an ANALYZE)
        for (int i = 0; i < 10; i++) {
            insert(100_000 + i);
        }
        commit();
        transactions.flush(batches::add);
        assertThat(batches.stream().filter(b -> !b.ddl().isEmpty()).count()).as("one description: before the first change").isEqualTo(1);
        List<ChangeBatch> rows = batches.stream().filter(b -> b.ddl().isEmpty()).toList();
        assertThat(rows).as("open batches, then the one that commits them").hasSize(2);
        assertThat(rows.get(0).open()).isTrue();
        assertThat(rows.get(1).open()).isFalse();
        assertThat(rows.get(1).changes()).hasSize(20);
    }

    @Test
    void transactionsTheOtherDirectionWroteAreNotSentBackAndStillMoveThePosition() throws Exception {
        relation();
        begin(1);
        origin("migrator:orders-reverse"); // written by this migration's reverse applier: must not go back
        insert(1);
        commit();
        long afterEcho = lsn - 90; // the commit sent last ends 10 past its LSN, 100 before the next message's
        begin(2);
        origin("some-subscription"); // another replication wrote it into the source: the migration carries it
        insert(2);
        commit();
        begin(3);
        insert(3);
        commit();
        begin(4);
        origin("migrator:orders-reverse");
        insert(4);
        commit();
        long end = lsn - 90;
        transactions.flush(batches::add);
        List<ChangeBatch> rows = batches.stream().filter(b -> b.ddl().isEmpty()).toList();
        assertThat(rows.stream().flatMap(b -> b.changes().stream()).map(c -> c.key().values().get(0)).toList())
                .containsExactly("2", "3");
        long last = (Long) PostgresPosition.offset(rows.get(rows.size() - 1).position()).get("lsn");
        assertThat(last).as("the position passes the skipped transactions' commits").isEqualTo(end).isGreaterThan(afterEcho);
    }

    @Test
    void aStreamedTransactionCarriesItsOriginInItsFirstBlock() throws Exception {
        // protocol 2: the Origin follows the first Stream Start without an xid of its own (it failed the stream before)
        streamed(7, "migrator:orders-reverse", 70);
        streamed(8, "some-subscription", 80);
        transactions.flush(batches::add);
        assertThat(batches.stream().filter(b -> b.ddl().isEmpty()).flatMap(b -> b.changes().stream())
                .map(c -> c.key().values().get(0)).toList()).containsExactly("80");
    }

    @Test
    void theDirectionsKnowEachOthersOrigins() {
        assertThat(PostgresOrigin.writtenByOpposite("migrator:orders", "orders-reverse")).isTrue();
        assertThat(PostgresOrigin.writtenByOpposite("migrator:orders-reverse", "orders")).isTrue();
        assertThat(PostgresOrigin.writtenByOpposite("migrator:orders", "orders")).as("its own origin is on its target, never here").isFalse();
        assertThat(PostgresOrigin.writtenByOpposite("migrator:carts-reverse", "orders")).isFalse();
        assertThat(PostgresOrigin.writtenByOpposite("pg_16384", "orders")).isFalse();
        assertThat(PostgresOrigin.writtenByOpposite(null, "orders")).isFalse();
        String longName = "a".repeat(63);
        assertThat(PostgresOrigin.writtenByOpposite(PostgresOrigin.name(Plan.reverseName(longName)), longName)).isTrue();
    }

    @Test
    void aHeartbeatMessageBetweenTransactionsIsAPositionWithTheSourcesTime() throws Exception {
        relation();
        begin(1);
        insert(1);
        commit();
        long at = heartbeat(1_700_000_000_123L);
        transactions.flush(batches::add);
        ChangeBatch last = batches.get(batches.size() - 1);
        assertThat(last.changes()).extracting(c -> c.key().values().get(0)).containsExactly("1");
        assertThat(PostgresPosition.offset(last.position())).containsEntry("lsn_commit", at).doesNotContainKey("txId");
        assertThat(last.sourceMillis()).isEqualTo(1_700_000_000_123L);
        // while a transaction streams ahead of its commit, a heartbeat does not move the position past its start
        batches.clear();
        send(out -> {
            out.write('S');
            out.writeInt(9);
            out.write(1);
        });
        send(out -> out.write('E'));
        heartbeat(1_700_000_000_999L);
        transactions.flush(batches::add);
        assertThat(batches).isEmpty();
    }

    /** A non-transactional logical decoding message with the heartbeat's prefix; returns its LSN. */
    private long heartbeat(long millis) throws Exception {
        long at = lsn + 7;
        byte[] content = Long.toString(millis).getBytes(StandardCharsets.US_ASCII);
        send(out -> {
            out.write('M');
            out.write(0);
            out.writeLong(at);
            string(out, PostgresHeartbeat.MESSAGE_PREFIX);
            out.writeInt(content.length);
            out.write(content);
        });
        return at;
    }

    private void streamed(int xid, String origin, int id) throws Exception {
        send(out -> {
            out.write('S');
            out.writeInt(xid);
            out.write(1);
        });
        send(out -> {
            out.write('O');
            out.writeLong(0);
            string(out, origin);
        });
        send(out -> {
            out.write('R');
            out.writeInt(xid);
            relationBody(out);
        });
        send(out -> {
            out.write('I');
            out.writeInt(xid);
            insertBody(out, id);
        });
        send(out -> out.write('E'));
        long at = lsn;
        send(out -> {
            out.write('c');
            out.writeInt(xid);
            out.write(0);
            out.writeLong(at);
            out.writeLong(at + 10);
            out.writeLong(0);
        });
    }

    private void origin(String name) throws Exception {
        send(out -> {
            out.write('O');
            out.writeLong(lsn + 40);
            string(out, name);
        });
    }

    private void relation() throws Exception {
        send(out -> {
            out.write('R');
            relationBody(out);
        });
    }

    private static void relationBody(DataOutputStream out) throws IOException {
        out.writeInt(1);
        string(out, "public");
        string(out, "t");
        out.write('d');
        out.writeShort(1);
        out.write(1);
        string(out, "id");
        out.writeInt(23);
        out.writeInt(-1);
    }

    private void begin(int xid) throws Exception {
        send(out -> {
            out.write('B');
            out.writeLong(lsn + 50);
            out.writeLong(0);
            out.writeInt(xid);
        });
    }

    private void insert(int id) throws Exception {
        send(out -> {
            out.write('I');
            insertBody(out, id);
        });
    }

    /** An Insert's fields after its kind (and, in a stream block, its xid): relation 1, a new tuple of one text column. */
    private static void insertBody(DataOutputStream out, int id) throws IOException {
        byte[] value = Integer.toString(id).getBytes(StandardCharsets.UTF_8);
        out.writeInt(1);
        out.write('N');
        out.writeShort(1);
        out.write('t');
        out.writeInt(value.length);
        out.write(value);
    }

    private void commit() throws Exception {
        long at = lsn;
        send(out -> {
            out.write('C');
            out.write(0);
            out.writeLong(at);
            out.writeLong(at + 10);
            out.writeLong(0);
        });
    }

    private interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    private void send(Writer writer) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        writer.write(new DataOutputStream(bytes));
        lsn += 100;
        transactions.receive(batches::add, ByteBuffer.wrap(bytes.toByteArray()), lsn);
    }

    private static void string(DataOutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.write(0);
    }
}
