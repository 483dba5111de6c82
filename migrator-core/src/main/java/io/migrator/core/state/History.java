package io.migrator.core.state;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The last {@code capacity} one-second samples the dashboard draws when it opens (lag and throughput over time). */
public final class History {
    /** One sample; null fields are unknown at that moment. */
    public record Sample(long epochSecond, Double lagSeconds, Long lagBytes, Double eventsPerSecond, Double rowsPerSecond) {
    }

    private final int capacity;
    private final Sample[] ring;
    private int next;
    private int size;

    public History(int capacity) {
        this.capacity = capacity;
        this.ring = new Sample[capacity];
    }

    public synchronized void add(Sample sample) {
        ring[next] = sample;
        next = (next + 1) % capacity;
        size = Math.min(size + 1, capacity);
    }

    public synchronized List<Sample> samples() {
        List<Sample> out = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            out.add(ring[(next - size + i + capacity) % capacity]);
        }
        return out;
    }

    /** Column arrays, the shape of {@code /api/history}: t, lagSeconds, lagBytes, eventsPerSecond, rowsPerSecond. */
    public Map<String, List<Object>> columns() {
        List<Sample> samples = samples();
        Map<String, List<Object>> columns = new LinkedHashMap<>();
        columns.put("t", new ArrayList<>());
        columns.put("lagSeconds", new ArrayList<>());
        columns.put("lagBytes", new ArrayList<>());
        columns.put("eventsPerSecond", new ArrayList<>());
        columns.put("rowsPerSecond", new ArrayList<>());
        for (Sample s : samples) {
            columns.get("t").add(s.epochSecond());
            columns.get("lagSeconds").add(s.lagSeconds());
            columns.get("lagBytes").add(s.lagBytes());
            columns.get("eventsPerSecond").add(s.eventsPerSecond());
            columns.get("rowsPerSecond").add(s.rowsPerSecond());
        }
        return columns;
    }
}
