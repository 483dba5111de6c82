package io.migrator.connectors.redis;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The source's command table, read with {@code COMMAND}: every name the stream may carry (so none is dropped for want of
 * a parser), and where each command's keys are (first, last, step), so commands can be routed to cluster slots and
 * matched against the plan's key patterns. Commands whose keys move with their arguments ({@code movablekeys}) ask the
 * source with {@code COMMAND GETKEYS}.
 */
final class RedisCommandTable {
    record Spec(String name, int arity, int firstKey, int lastKey, int step, boolean movableKeys, boolean write) {
    }

    /** Commands whose keys can be split into one command per key (or per key-value pair) with the same effect. */
    private static final Set<String> SPLIT_PER_KEY = Set.of("DEL", "UNLINK", "TOUCH");
    private static final Set<String> SPLIT_PER_PAIR = Set.of("MSET");
    /**
     * Commands that truly have no keys and act on the whole server: run on every master of a cluster. Other commands whose
     * table entry shows no key (containers such as XGROUP, OBJECT) are asked with COMMAND GETKEYS.
     */
    static final Set<String> SERVER_WIDE = Set.of("FLUSHALL", "FLUSHDB", "FUNCTION", "SCRIPT", "SWAPDB");

    private final Map<String, Spec> specs;
    private final Function<byte[][], List<byte[]>> getKeys;

    RedisCommandTable(Map<String, Spec> specs, Function<byte[][], List<byte[]>> getKeys) {
        this.specs = Map.copyOf(specs);
        this.getKeys = getKeys;
    }

    /** Parses the reply of {@code COMMAND} (an array of [name, arity, flags, first, last, step, ...]). */
    static Map<String, Spec> parse(List<Object> reply) {
        Map<String, Spec> specs = new HashMap<>();
        for (Object entry : reply) {
            if (!(entry instanceof List<?> fields) || fields.size() < 6) {
                continue;
            }
            String name = text(fields.get(0)).toUpperCase(Locale.ROOT);
            boolean movable = false;
            boolean write = false;
            if (fields.get(2) instanceof List<?> flags) {
                for (Object flag : flags) {
                    String f = text(flag);
                    movable |= f.equals("movablekeys");
                    write |= f.equals("write");
                }
            }
            specs.put(name, new Spec(name, (int) (long) (Long) fields.get(1), (int) (long) (Long) fields.get(3),
                    (int) (long) (Long) fields.get(4), (int) (long) (Long) fields.get(5), movable, write));
        }
        return specs;
    }

    static String text(Object o) {
        return o instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(o);
    }

    Set<String> names() {
        return specs.keySet();
    }

    /** The keys of a command, {@code argv[0]} being its name; empty for commands without keys (FLUSHALL, FUNCTION ...). */
    List<byte[]> keys(byte[][] argv) {
        String name = new String(argv[0], StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT);
        Spec spec = specs.get(name);
        if (spec == null) {
            return getKeys.apply(argv);
        }
        if (spec.movableKeys() || spec.firstKey() <= 0 && !SERVER_WIDE.contains(name)) {
            return getKeys.apply(argv);
        }
        List<byte[]> keys = new ArrayList<>();
        if (spec.firstKey() <= 0) {
            return keys;
        }
        int last = spec.lastKey() < 0 ? argv.length + spec.lastKey() : spec.lastKey();
        int step = Math.max(1, spec.step());
        for (int i = spec.firstKey(); i <= last && i < argv.length; i += step) {
            keys.add(argv[i]);
        }
        return keys;
    }

    /**
     * The command split into one command per key (DEL, UNLINK, TOUCH) or per key-value pair (MSET), which has the same
     * effect key by key; null when the command cannot be split without changing what it means (RENAME, SMOVE ...).
     */
    static List<byte[][]> split(byte[][] argv) {
        String name = new String(argv[0], StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT);
        List<byte[][]> parts = new ArrayList<>();
        if (SPLIT_PER_KEY.contains(name)) {
            for (int i = 1; i < argv.length; i++) {
                parts.add(new byte[][] {argv[0], argv[i]});
            }
            return parts;
        }
        if (SPLIT_PER_PAIR.contains(name)) {
            for (int i = 1; i + 1 < argv.length; i += 2) {
                parts.add(new byte[][] {argv[0], argv[i], argv[i + 1]});
            }
            return parts;
        }
        return null;
    }
}
