package io.migrator.core.validate;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.SourcePosition;
import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.Fence;
import io.migrator.core.spi.RowChecksums;
import io.migrator.core.spi.SourceSession;
import io.migrator.core.spi.TargetSession;
import io.migrator.core.state.Chunk;
import io.migrator.core.state.ValidationReport;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The fenced recheck's verdicts on rows that move while it looks: the interleavings the real-server tests cannot
 * provoke on purpose. Each side is a key -> value map; the fence is where "the target applies what the source had".
 */
class ValidatorRecheckTest {
    private static final TableDef TABLE = new TableDef(new TableId("shop", "t"),
            List.of(new ColumnDef("id", "int", false, false), new ColumnDef("v", "varchar(10)", true, false)), List.of("id"), "", 10);

    /** One side's rows; hooks run on key-list reads (the recheck's reads). */
    static final class Side implements RowChecksums {
        final TreeMap<String, String> rows = new TreeMap<>();
        final AtomicInteger keyReads = new AtomicInteger();
        Consumer<Integer> onKeyRead = n -> { };

        @Override
        public RangeSum checksum(TableDef table, Chunk range) {
            return new RangeSum(rows.size(), String.valueOf(rows.hashCode()));
        }

        @Override
        public Optional<String> midKey(TableDef table, Chunk range, long count) {
            return Optional.empty();
        }

        @Override
        public Map<String, String> rowHashes(TableDef table, Chunk range) {
            return new LinkedHashMap<>(rows);
        }

        @Override
        public Map<String, String> rowHashes(TableDef table, List<String> keys) {
            onKeyRead.accept(keyReads.incrementAndGet());
            Map<String, String> out = new LinkedHashMap<>();
            keys.stream().filter(rows::containsKey).forEach(k -> out.put(k, rows.get(k)));
            return out;
        }

        @Override
        public Map<String, String> columnHashes(TableDef table, String key) {
            return rows.containsKey(key) ? Map.of("id", key, "v", rows.get(key)) : Map.of();
        }

        @Override
        public Map<String, Object> describeKey(TableDef table, String key) {
            return Map.of("id", key);
        }
    }

    private final Side src = new Side();
    private final Side tgt = new Side();

    /**
     * A session that answers only what the handler declares; any other call fails the test, so the validator cannot
     * silently depend on something these in-memory sides do not model.
     */
    private static <T> T stub(Class<T> type, Object handler) {
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (proxy, method, args) -> {
            for (var m : handler.getClass().getDeclaredMethods()) {
                if (m.getName().equals(method.getName()) && m.getParameterCount() == method.getParameterCount()) {
                    m.setAccessible(true);
                    return m.invoke(handler, args);
                }
            }
            throw new AssertionError("the validator called " + method.getName() + ", which this test does not model");
        }));
    }

    private ValidationReport validate(Fence fence) throws InterruptedException {
        Object sourceHandler = new Object() {
            RowChecksums checksums() {
                return src;
            }

            SourcePosition currentPosition() {
                return new SourcePosition("p");
            }

            List<Chunk> planChunks(TableDef table, int rows) {
                return List.of(new Chunk(0, null, null));
            }
        };
        Object targetHandler = new Object() {
            RowChecksums checksums() {
                return tgt;
            }
        };
        SourceSession source = stub(SourceSession.class, sourceHandler);
        TargetSession target = stub(TargetSession.class, targetHandler);
        return new Validator(source, target, fence, (t, k) -> { }, new Validator.Options(100, 1, false, Duration.ofMillis(50), 5))
                .validate(List.of(TABLE));
    }

    private static List<String> found(ValidationReport report) {
        List<String> out = new ArrayList<>();
        report.tables().get(0).mismatches().forEach(m -> out.add(m.kind() + " " + m.key().get("id") + " " + m.columns()));
        return out;
    }

    @Test
    void realDifferencesAreConfirmedWithTheirKind() throws Exception {
        src.rows.putAll(Map.of("1", "a", "2", "b", "3", "c"));
        tgt.rows.putAll(Map.of("1", "a", "3", "X", "9", "ghost"));
        ValidationReport report = validate((p, t) -> true);
        assertThat(found(report)).containsExactlyInAnyOrder("missing 2 []", "different 3 [v]", "extra 9 []");
        assertThat(report.mismatchCount()).isEqualTo(3);
        assertThat(report.state()).isEqualTo("mismatch");
    }

    @Test
    void aChangeInFlightSettlesOnceTheTargetAppliedPastTheFence() throws Exception {
        src.rows.putAll(Map.of("1", "a", "2", "new"));
        tgt.rows.putAll(Map.of("1", "a", "2", "old"));
        ValidationReport report = validate((p, t) -> {
            tgt.rows.putAll(src.rows); // the stream delivers what the source had at P
            return true;
        });
        assertThat(report.ok()).isTrue();
        assertThat(report.mismatchCount()).isZero();
    }

    @Test
    void aRowFlappingAroundOneFenceIsNotReported() throws Exception {
        // V -> V' before the fence position, back to V after it: the target legitimately shows V' at the first fence
        src.rows.putAll(Map.of("1", "V"));
        tgt.rows.putAll(Map.of("1", "old"));
        AtomicInteger fences = new AtomicInteger();
        ValidationReport report = validate((p, t) -> {
            if (fences.incrementAndGet() == 1) {
                tgt.rows.put("1", "V'"); // applied up to P, which held V'; the source is back at V after P
            } else {
                tgt.rows.put("1", "V"); // the next fence carries the change back to V
            }
            return true;
        });
        assertThat(report.mismatchCount()).as("a one-round difference is not a verdict").isZero();
        assertThat(report.ok()).isTrue();
    }

    @Test
    void aLostChangeIsFoundEvenWhenTheFirstReadMatchedTheTarget() throws Exception {
        src.rows.putAll(Map.of("1", "V1"));
        tgt.rows.putAll(Map.of("1", "stale-at-range-check"));
        // the first recheck read sees V1 (equal to what the target gets below), then the source moves to V2, and that
        // change never reaches the target (a lost event): comparing only the first read would call the row settled
        src.onKeyRead = n -> {
            if (n == 1) {
                src.rows.put("1", "V1");
            } else if (n == 2) {
                src.rows.put("1", "V2");
            }
        };
        ValidationReport report = validate((p, t) -> {
            tgt.rows.put("1", "V1");
            return true;
        });
        assertThat(found(report)).containsExactly("different 1 [v]");
    }

    @Test
    void withoutTheFenceNothingIsConfirmedAndTheRunIsInconclusive() throws Exception {
        src.rows.putAll(Map.of("1", "a"));
        tgt.rows.putAll(Map.of("1", "b"));
        ValidationReport report = validate((p, t) -> false);
        assertThat(report.mismatchCount()).isZero();
        assertThat(report.state()).isEqualTo("inconclusive");
        assertThat(report.ok()).isFalse();
        assertThat(report.tables().get(0).unsettled()).containsExactly(Map.of("id", "1"));
        assertThat(report.note()).contains("did not apply past");
    }
}
