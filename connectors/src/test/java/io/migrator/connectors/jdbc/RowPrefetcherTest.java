package io.migrator.connectors.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.schema.TableId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** The lanes' bookkeeping: which keys each read gets, when prefetch returns, when a read-ahead is dropped. */
class RowPrefetcherTest {
    private final TableId a = new TableId("shop", "a");
    private final TableId b = new TableId("shop", "b");
    /** The reader gets no real connection here: it records what it was asked to read. */
    private final DataSource noConnections = (DataSource) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
            new Class<?>[] {DataSource.class}, (proxy, method, args) -> null);

    private static List<RowChange> changes(TableId table, int from, int count) {
        List<RowChange> changes = new ArrayList<>();
        for (int i = from; i < from + count; i++) {
            changes.add(new RowChange.Upsert(new RowKey(table, List.of("id"), List.of(i)), Map.of("id", i)));
        }
        return changes;
    }

    private record Read(TableId table, List<RowChange> slice) {
    }

    @Test
    void prefetchReadsEveryKeyInSlicesOfOneTableAndWaitsForThem() {
        ConcurrentLinkedQueue<Read> reads = new ConcurrentLinkedQueue<>();
        List<RowChange> batch = new ArrayList<>(changes(a, 0, 700));
        batch.addAll(changes(b, 0, 300));
        try (RowPrefetcher prefetcher = new RowPrefetcher(noConnections, 4, (c, table, slice) -> {
            try {
                Thread.sleep(20); // returns only after the reads: they finished, not just started
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            reads.add(new Read(table, List.copyOf(slice)));
        })) {
            prefetcher.prefetch(batch);

            assertThat(reads).allSatisfy(read -> assertThat(read.slice()).allMatch(ch -> ch.key().table().equals(read.table())));
            assertThat(reads).allSatisfy(read -> assertThat(read.slice().size()).isBetween(1, 250)); // 1,000 keys over 4 lanes
            assertThat(reads.stream().flatMap(read -> read.slice().stream()).toList()).containsExactlyInAnyOrderElementsOf(batch);
        }
    }

    @Test
    void readAheadIsDroppedWhileEarlierReadsAreStillQueued() throws InterruptedException {
        CountDownLatch release = new CountDownLatch(1);
        ConcurrentLinkedQueue<Read> reads = new ConcurrentLinkedQueue<>();
        try (RowPrefetcher prefetcher = new RowPrefetcher(noConnections, 2, (c, table, slice) -> {
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            reads.add(new Read(table, List.copyOf(slice)));
        })) {
            prefetcher.readAhead(changes(a, 0, 256)); // 2 reads of 128 keys, both blocked
            prefetcher.readAhead(changes(a, 256, 256)); // 2 pending: not more than the lanes, so 2 more are queued
            prefetcher.readAhead(changes(a, 512, 256)); // 4 pending: the applier is ahead of the reads, dropped
            release.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (reads.size() < 4 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            Thread.sleep(100); // a fifth and sixth read, if any had been queued, would have run by now
            assertThat(reads).hasSize(4);
            assertThat(reads.stream().flatMap(read -> read.slice().stream()).toList())
                    .containsExactlyInAnyOrderElementsOf(changes(a, 0, 512));
        }
    }

    @Test
    void smallBatchesAndSingleLanesAreNotWorthReadingAhead() {
        try (RowPrefetcher one = new RowPrefetcher(noConnections, 1, (c, t, s) -> { });
                RowPrefetcher four = new RowPrefetcher(noConnections, 4, (c, t, s) -> { })) {
            assertThat(one.worthIt(10_000)).isFalse();
            assertThat(four.worthIt(RowPrefetcher.MIN_KEYS)).isTrue();
            assertThat(four.worthIt(RowPrefetcher.MIN_KEYS - 1)).isFalse();
        }
    }
}
