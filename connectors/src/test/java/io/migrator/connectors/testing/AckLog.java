package io.migrator.connectors.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/** An application's acknowledged writes in a cutover test: what was acknowledged, and when (System.nanoTime). */
public final class AckLog {
    public final ConcurrentMap<String, Long> acknowledged = new ConcurrentHashMap<>();
    private final List<Long> times = java.util.Collections.synchronizedList(new ArrayList<>());

    public void acknowledged(String what) {
        long now = System.nanoTime();
        acknowledged.put(what, now);
        times.add(now);
    }

    /** What was acknowledged after {@code nanoTime}. */
    public List<String> after(long nanoTime) {
        return acknowledged.entrySet().stream().filter(e -> e.getValue() > nanoTime).map(Map.Entry::getKey).toList();
    }

    /** The longest time between two acknowledged writes around [from, to] (nanoTime). */
    public long longestGapMillis(long from, long to) {
        List<Long> copy;
        synchronized (times) {
            copy = new ArrayList<>(times);
        }
        long longest = 0;
        for (int i = 1; i < copy.size(); i++) {
            if (copy.get(i) >= from && copy.get(i - 1) <= to) {
                longest = Math.max(longest, (copy.get(i) - copy.get(i - 1)) / 1_000_000);
            }
        }
        return longest;
    }
}
