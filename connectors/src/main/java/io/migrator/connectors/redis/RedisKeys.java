package io.migrator.connectors.redis;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.TableFilter;
import java.nio.charset.StandardCharsets;
import java.util.function.Predicate;

/** The plan's key patterns ({@code keys.include}/{@code keys.exclude}) as a test on key bytes. */
final class RedisKeys {
    private static final Predicate<byte[]> ALL = key -> true;

    private RedisKeys() {
    }

    static Predicate<byte[]> filter(Plan plan) {
        TableFilter keys = plan.keys();
        if (keys.includesAll()) {
            return ALL;
        }
        // keys are bytes; patterns are text: a key that is not UTF-8 still matches '*' and '?' runs
        return key -> keys.includesKey(new String(key, StandardCharsets.UTF_8));
    }

    /** Whether the filter lets every key through (no per-command key extraction needed). */
    static boolean all(Predicate<byte[]> filter) {
        return filter == ALL;
    }
}
