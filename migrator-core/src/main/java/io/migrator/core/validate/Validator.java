package io.migrator.core.validate;

import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.schema.TableDef;
import io.migrator.core.spi.Fence;
import io.migrator.core.spi.RowChecksums;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.state.Chunk;
import io.migrator.core.state.ValidationReport;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Row parity between source and target while traffic runs (ARCHITECTURE.md rule 5), engine-neutral:
 * <ol>
 * <li>each table is cut into key ranges; both databases compute a count and a digest of each range (no rows travel);</li>
 * <li>a range whose sums differ is bisected at its median key until it is small, then compared row hash by row hash;</li>
 * <li>each suspect row is rechecked, fenced: read its source hash, read the source position P, wait until the target
 *     applied past P, read the target hash and the source hash again. A row whose source hash did not move and whose
 *     target hash still differs is a real difference; a row equal on both sides was in flight; a row that kept
 *     changing is retried, and reported as unsettled (not a mismatch) if it never holds still.</li>
 * </ol>
 * With {@code repair}, confirmed rows are handed to the {@link Repairer} (the apply path of the stream) and checked again.
 */
public final class Validator {
    private static final Logger LOG = LoggerFactory.getLogger(Validator.class);
    /** Ranges at most this large are compared row by row instead of bisected further. */
    static final long ROW_LEVEL = 2_000;
    /** Listed differences per table; every one is counted and repaired, only this many are named in the report. */
    static final int LISTED = 1_000;

    /** Fixes rows through the stream's apply path: reads the source rows for these keys and applies them in order. */
    @FunctionalInterface
    public interface Repairer {
        void repair(TableDef table, List<String> keys);
    }

    public record Options(int chunkRows, int parallelism, boolean repair, Duration fenceTimeout, int recheckRounds) {
        public Options {
            if (chunkRows < 1 || parallelism < 1 || recheckRounds < 1) {
                throw new IllegalArgumentException("chunkRows, parallelism and recheckRounds must be positive");
            }
        }

        public static Options defaults() {
            return new Options(100_000, 2, false, Duration.ofSeconds(60), 5);
        }

        public Options withRepair(boolean repair) {
            return new Options(chunkRows, parallelism, repair, fenceTimeout, recheckRounds);
        }
    }

    private final SourceSession source;
    private final RowChecksums src;
    private final RowChecksums tgt;
    private final Fence fence;
    private final Repairer repairer;
    private final Options options;

    public Validator(SourceSession source, TargetSession target, Fence fence, Repairer repairer, Options options) {
        this.source = source;
        this.src = source.checksums();
        this.tgt = target.checksums();
        this.fence = fence;
        this.repairer = repairer;
        this.options = options;
    }

    /** Per-table tallies, shared by the range tasks of one table. */
    private static final class Tally {
        final AtomicLong rows = new AtomicLong();
        final AtomicLong chunks = new AtomicLong();
        final AtomicLong rechecked = new AtomicLong();
        final AtomicLong mismatches = new AtomicLong();
        final AtomicLong repaired = new AtomicLong();
        final List<ValidationReport.Mismatch> listed = Collections.synchronizedList(new ArrayList<>());
        final List<Map<String, Object>> unsettled = Collections.synchronizedList(new ArrayList<>());
        volatile boolean unfenced;
    }

    private ExecutorService targetSide;

    public ValidationReport validate(List<TableDef> tables) throws InterruptedException {
        Instant started = Instant.now();
        targetSide = Executors.newFixedThreadPool(options.parallelism(), r -> {
            Thread t = new Thread(r, "validator-target");
            t.setDaemon(true);
            return t;
        });
        Map<TableDef, Tally> tallies = new LinkedHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(options.parallelism(), r -> {
            Thread t = new Thread(r, "validator");
            t.setDaemon(true);
            return t;
        });
        try {
            // planning a table (walking its key when no quick plan exists) overlaps with checksumming the ranges already planned
            java.util.concurrent.BlockingQueue<Future<?>> work = new java.util.concurrent.LinkedBlockingQueue<>();
            for (TableDef table : tables) {
                Tally tally = new Tally();
                tallies.put(table, tally);
                work.add(pool.submit(() -> {
                    List<Chunk> ranges = src.quickRanges(table, options.chunkRows());
                    if (ranges.isEmpty()) {
                        ranges = source.planChunks(table, options.chunkRows());
                    }
                    for (Chunk chunk : ranges) {
                        work.add(pool.submit(() -> {
                            tally.chunks.incrementAndGet();
                            checkRange(table, chunk, tally);
                            return null;
                        }));
                    }
                    return null;
                }));
            }
            for (Future<?> f; (f = work.poll()) != null; ) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof MigratorException m) {
                        throw m;
                    }
                    throw new MigratorException(ErrorCode.INTERNAL, "validation failed: " + cause, null, cause);
                }
            }
        } finally {
            pool.shutdownNow();
            targetSide.shutdownNow();
        }
        List<ValidationReport.TableResult> results = new ArrayList<>();
        long rows = 0;
        long mismatches = 0;
        boolean unfenced = false;
        boolean unsettled = false;
        for (Map.Entry<TableDef, Tally> e : tallies.entrySet()) {
            Tally t = e.getValue();
            List<ValidationReport.Mismatch> listed = new ArrayList<>(t.listed);
            listed.sort(java.util.Comparator.comparing(m -> m.key().toString()));
            results.add(new ValidationReport.TableResult(e.getKey().id().toString(), t.rows.get(), t.chunks.get(), t.rechecked.get(), listed,
                    new ArrayList<>(t.unsettled), t.repaired.get()));
            rows += t.rows.get();
            mismatches += t.mismatches.get();
            unfenced |= t.unfenced;
            unsettled |= !t.unsettled.isEmpty();
        }
        Double parity = rows == 0 ? null : Math.max(0, rows - mismatches) * 100.0 / rows;
        String state = mismatches > 0 ? "mismatch" : unfenced || unsettled ? "inconclusive" : "passed";
        String note = unfenced ? "the target did not apply past the check position within " + options.fenceTimeout().toSeconds()
                + "s (worker paused or stalled?): rows still in question are listed as unsettled" : unsettled
                ? "some rows changed on the source through every recheck; validate again when traffic is lower" : null;
        LOG.info("validation {}: {} rows compared, {} mismatches", state, rows, mismatches);
        return new ValidationReport(mismatches == 0 && !unfenced && !unsettled, state, started.toString(), Instant.now().toString(), rows,
                mismatches, parity, options.repair(), results, note);
    }

    private void checkRange(TableDef table, Chunk range, Tally tally) throws InterruptedException {
        // both servers work on the range at once: the target's sum on a helper thread while this one asks the source
        java.util.concurrent.CompletableFuture<RowChecksums.RangeSum> onTarget =
                java.util.concurrent.CompletableFuture.supplyAsync(() -> tgt.checksum(table, range), targetSide);
        RowChecksums.RangeSum s = src.checksum(table, range);
        RowChecksums.RangeSum t;
        try {
            t = onTarget.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new MigratorException(ErrorCode.INTERNAL, "checksumming the target failed: " + e.getCause(), null, e.getCause());
        }
        if (s.equals(t)) {
            tally.rows.addAndGet(s.rows());
            return;
        }
        if (Math.max(s.rows(), t.rows()) > ROW_LEVEL) {
            Optional<String> mid = s.rows() >= t.rows() ? src.midKey(table, range, s.rows()) : tgt.midKey(table, range, t.rows());
            if (mid.isPresent() && !mid.get().equals(range.upper())) {
                checkRange(table, new Chunk(range.number(), range.lower(), mid.get()), tally);
                checkRange(table, new Chunk(range.number(), mid.get(), range.upper()), tally);
                return;
            }
        }
        Map<String, String> sh = src.rowHashes(table, range);
        Map<String, String> th = tgt.rowHashes(table, range);
        tally.rows.addAndGet(sh.size());
        Set<String> suspects = new LinkedHashSet<>();
        for (Map.Entry<String, String> e : sh.entrySet()) {
            if (!e.getValue().equals(th.get(e.getKey()))) {
                suspects.add(e.getKey());
            }
        }
        for (String key : th.keySet()) {
            if (!sh.containsKey(key)) {
                suspects.add(key);
            }
        }
        if (!suspects.isEmpty()) {
            tally.rechecked.incrementAndGet();
            recheck(table, new ArrayList<>(suspects), tally);
        }
    }

    /** The fenced recheck; confirmed differences are counted, listed, and repaired when asked. */
    private void recheck(TableDef table, List<String> suspects, Tally tally) throws InterruptedException {
        Map<String, Kind> confirmed = confirm(table, suspects, tally).confirmed();
        if (confirmed.isEmpty()) {
            return;
        }
        tally.mismatches.addAndGet(confirmed.size());
        // name the columns before a repair makes the rows equal
        Map<String, List<String>> columns = new LinkedHashMap<>();
        for (Map.Entry<String, Kind> e : confirmed.entrySet()) {
            if (tally.listed.size() + columns.size() >= LISTED) {
                break;
            }
            columns.put(e.getKey(), e.getValue() == Kind.DIFFERENT ? differentColumns(table, e.getKey()) : List.of());
        }
        Set<String> fixed = Set.of();
        if (options.repair()) {
            List<String> keys = new ArrayList<>(confirmed.keySet());
            for (int i = 0; i < keys.size(); i += 500) {
                repairer.repair(table, keys.subList(i, Math.min(keys.size(), i + 500)));
            }
            // repaired = checked again and found equal; rows still different, or undecided, are not
            Verdict still = confirm(table, keys, new Tally());
            Set<String> ok = new LinkedHashSet<>(keys);
            ok.removeAll(still.confirmed().keySet());
            ok.removeAll(still.unresolved());
            fixed = ok;
            tally.repaired.addAndGet(ok.size());
        }
        for (Map.Entry<String, List<String>> e : columns.entrySet()) {
            tally.listed.add(new ValidationReport.Mismatch(src.describeKey(table, e.getKey()), confirmed.get(e.getKey()).label(), e.getValue(),
                    fixed.contains(e.getKey())));
        }
    }

    enum Kind {
        MISSING, EXTRA, DIFFERENT;

        String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** What the fenced recheck concluded: confirmed differences by kind, and keys it could not decide. */
    private record Verdict(Map<String, Kind> confirmed, Set<String> unresolved) {
    }

    /**
     * A row is settled (equal) when source-before, target and source-after all agree. It is a confirmed difference when,
     * in two consecutive rounds fenced by the target applying past the source position, the source row held still and
     * the target showed the same different image both times: a row that changed V, V', V around one fence cannot pass
     * twice. Rows that keep moving, or whose target is never known to be current, stay unresolved (reported unsettled).
     */
    private Verdict confirm(TableDef table, List<String> keys, Tally tally) throws InterruptedException {
        Map<String, Kind> confirmed = new LinkedHashMap<>();
        Map<String, String> seenOnce = new java.util.HashMap<>();
        List<String> open = new ArrayList<>(keys);
        boolean unfenced = false;
        for (int round = 0; round < options.recheckRounds() && !open.isEmpty(); round++) {
            Map<String, String> before = src.rowHashes(table, open);
            SourcePosition position = source.currentPosition();
            boolean fenced = fence.awaitApplied(position, options.fenceTimeout());
            unfenced |= !fenced;
            Map<String, String> target = tgt.rowHashes(table, open);
            Map<String, String> after = src.rowHashes(table, open);
            List<String> retry = new ArrayList<>();
            for (String key : open) {
                String s = before.get(key);
                String t = target.get(key);
                boolean stable = Objects.equals(s, after.get(key));
                if (stable && Objects.equals(s, t)) {
                    seenOnce.remove(key);
                    continue; // equal: it was in flight
                }
                if (!fenced || !stable) {
                    seenOnce.remove(key);
                    retry.add(key); // the source row moved, or the target is not known to be current: look again
                    continue;
                }
                String pair = s + "/" + t;
                if (pair.equals(seenOnce.get(key))) {
                    confirmed.put(key, s == null ? Kind.EXTRA : t == null ? Kind.MISSING : Kind.DIFFERENT);
                } else {
                    seenOnce.put(key, pair);
                    retry.add(key);
                }
            }
            open = retry;
            if (!open.isEmpty()) {
                Thread.sleep(Math.min(2_000, 100L << round));
            }
        }
        if (unfenced && !open.isEmpty()) {
            tally.unfenced = true;
        }
        for (String key : open) {
            if (tally.unsettled.size() < LISTED) {
                tally.unsettled.add(src.describeKey(table, key));
            }
        }
        return new Verdict(confirmed, new LinkedHashSet<>(open));
    }

    private List<String> differentColumns(TableDef table, String key) {
        Map<String, String> s = src.columnHashes(table, key);
        Map<String, String> t = tgt.columnHashes(table, key);
        List<String> columns = new ArrayList<>();
        for (String column : s.keySet()) {
            if (!Objects.equals(s.get(column), t.get(column))) {
                columns.add(column);
            }
        }
        return columns;
    }
}
