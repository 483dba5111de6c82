package io.migrator.connectors.redis;

import io.migrator.core.plan.Plan;
import io.migrator.core.state.ValidationReport;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Response;
import redis.clients.jedis.params.RestoreParams;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;
import redis.clients.jedis.resps.Tuple;

/**
 * Key parity between two standalone Redis servers, database by database: SCAN the source, and for each batch read TYPE,
 * PTTL and DUMP on both sides in one pipeline each. Equal DUMP bytes and TTLs within the tolerance settle a key; when the
 * payloads differ (encodings differ between versions and with listpack thresholds), the values are compared by type
 * (strings, hashes, lists, sets, sorted sets, streams) and the differing parts are named. Keys only on the target are
 * found by a SCAN of the target. Suspects are read again on both sides before they are reported: with no stream running,
 * nothing is in flight, so a difference that is still there, on a source key that did not change, is real.
 */
final class RedisKeyParity {
    /** One server (or a whole cluster) to compare: per-key commands, pipelines, and a SCAN over every key. */
    interface Side extends AutoCloseable {
        redis.clients.jedis.commands.JedisCommands commands();

        redis.clients.jedis.commands.JedisBinaryCommands binary();

        redis.clients.jedis.AbstractPipeline pipeline();

        void select(int db);

        /** Every key, page by page (a cluster: every master's keys). */
        void scan(java.util.function.Consumer<List<String>> page);

        @Override
        void close();
    }

    static final class Standalone implements Side {
        private final Jedis jedis;

        Standalone(Jedis jedis) {
            this.jedis = jedis;
        }

        public redis.clients.jedis.commands.JedisCommands commands() {
            return jedis;
        }

        public redis.clients.jedis.commands.JedisBinaryCommands binary() {
            return jedis;
        }

        public redis.clients.jedis.AbstractPipeline pipeline() {
            return jedis.pipelined();
        }

        public void select(int db) {
            jedis.select(db);
        }

        public void scan(java.util.function.Consumer<List<String>> page) {
            scanAll(jedis, page);
        }

        public void close() {
            jedis.close();
        }
    }

    /** A Redis Cluster target (ElastiCache cluster mode): keys routed by slot, database 0 only. */
    static final class Cluster implements Side {
        private final redis.clients.jedis.JedisCluster cluster;

        Cluster(redis.clients.jedis.JedisCluster cluster) {
            this.cluster = cluster;
        }

        public redis.clients.jedis.commands.JedisCommands commands() {
            return cluster;
        }

        public redis.clients.jedis.commands.JedisBinaryCommands binary() {
            return cluster;
        }

        public redis.clients.jedis.AbstractPipeline pipeline() {
            return cluster.pipelined();
        }

        public void select(int db) {
            if (db != 0) {
                throw new IllegalArgumentException("a cluster has database 0 only");
            }
        }

        public void scan(java.util.function.Consumer<List<String>> page) {
            for (redis.clients.jedis.ConnectionPool pool : cluster.getClusterNodes().values()) {
                try (Jedis node = new Jedis(pool.getResource())) {
                    if ("master".equals(String.valueOf(node.role().get(0)))) {
                        scanAll(node, page);
                    }
                }
            }
        }

        public void close() {
            cluster.close();
        }
    }

    /**
     * Keys are bytes: Redis keys need not be UTF-8. Inside this class a key is held as an ISO-8859-1 string of its bytes
     * (one char per byte, so it round-trips exactly and can key a map); {@link #bytes} turns it back for every command,
     * {@link #display} shows it in reports (as text when it is UTF-8, else as hex).
     */
    private static void scanAll(Jedis jedis, java.util.function.Consumer<List<String>> page) {
        byte[] cursor = ScanParams.SCAN_POINTER_START_BINARY;
        do {
            ScanResult<byte[]> result = jedis.scan(cursor, new ScanParams().count(BATCH));
            cursor = result.getCursorAsBytes();
            List<String> keys = result.getResult().stream().filter(k -> !RedisCheckpoint.bookkeeping(k))
                    .map(k -> new String(k, java.nio.charset.StandardCharsets.ISO_8859_1)).toList();
            if (!keys.isEmpty()) {
                page.accept(keys);
            }
        } while (!Arrays.equals(cursor, ScanParams.SCAN_POINTER_START_BINARY));
    }

    static byte[] bytes(String key) {
        return key.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    /** The key as text when its bytes are UTF-8, else as 0x-hex. */
    static String display(String key) {
        byte[] raw = bytes(key);
        java.nio.charset.CharsetDecoder decoder = java.nio.charset.StandardCharsets.UTF_8.newDecoder();
        try {
            return decoder.decode(java.nio.ByteBuffer.wrap(raw)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            return "0x" + java.util.HexFormat.of().formatHex(raw);
        }
    }

    /** Expiry times may differ by this much (the copy, the clocks); a TTL present on one side only always differs. */
    static final long TTL_TOLERANCE_MILLIS = 2_000;
    private static final int BATCH = 500;

    private final Plan plan;
    private final Duration timeout = Duration.ofSeconds(30);

    /** How often a suspect key whose source value moves under the recheck is read again before it is reported unsettled. */
    private static final int RECHECK_ATTEMPTS = 4;

    RedisKeyParity(Plan plan) {
        this.plan = plan;
    }

    /** What one side holds for a key: type ("none" when absent), PTTL, DUMP payload. */
    record KeyState(String type, long pttl, byte[] dump) {
        boolean exists() {
            return !"none".equals(type);
        }
    }

    /** What the recheck waits for while a worker streams: everything the source held when it is called is applied. */
    interface Fence {
        Fence NONE = timeout -> true;

        boolean await(Duration timeout);
    }

    ValidationReport validate(boolean repair) {
        return validate(repair, Fence.NONE);
    }

    ValidationReport validate(boolean repair, Fence fence) {
        Instant started = Instant.now();
        List<Integer> databases = plan.source().databases().isEmpty() ? List.of(0) : plan.source().databases();
        List<ValidationReport.TableResult> results = new ArrayList<>();
        long compared = 0;
        long mismatches = 0;
        if (plan.target().cluster() && databases.stream().anyMatch(db -> db != 0)) {
            throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.PREFLIGHT_FAILED, "source.databases "
                    + databases + " cannot be compared with a Redis Cluster target, which has database 0 only",
                    "compare database 0 only (source.databases: [0])");
        }
        try (Side source = new Standalone(RedisConnector.connect(plan.source(), timeout));
             Side target = plan.target().cluster() ? new Cluster(RedisConnector.cluster(plan.target(), timeout))
                     : new Standalone(RedisConnector.connect(plan.target(), timeout))) {
            for (int db : databases) {
                source.select(db);
                target.select(db);
                Map<String, String> suspects = new LinkedHashMap<>();
                long[] keys = {0};
                source.scan(batch -> {
                    keys[0] += batch.size();
                    Map<String, KeyState> s = states(source, batch);
                    Map<String, KeyState> t = states(target, batch);
                    for (String key : batch) {
                        String why = difference(source, target, key, s.get(key), t.get(key));
                        if (why != null) {
                            suspects.put(key, why);
                        }
                    }
                });
                target.scan(batch -> { // keys only on the target
                    List<Response<Boolean>> exists = new ArrayList<>();
                    try (redis.clients.jedis.AbstractPipeline p = source.pipeline()) {
                        for (String key : batch) {
                            exists.add(p.exists(bytes(key)));
                        }
                        p.sync();
                    }
                    for (int i = 0; i < exists.size(); i++) {
                        if (!exists.get(i).get()) {
                            suspects.putIfAbsent(batch.get(i), "extra");
                        }
                    }
                });
                // the recheck: read both sides again; a key that changed on the source in between is not judged on a stale read
                List<ValidationReport.Mismatch> confirmed = new ArrayList<>();
                List<Map<String, Object>> unsettled = new ArrayList<>();
                long repaired = 0;
                for (Map.Entry<String, String> e : suspects.entrySet()) {
                    String key = e.getKey();
                    // a key written all the time (a counter) can change between the two source reads: read again, a few times;
                    // a target equal to either source read is settled (the stream applied up to that state)
                    KeyState before = null;
                    String why = null;
                    boolean settled = false;
                    for (int attempt = 0; attempt < RECHECK_ATTEMPTS && !settled; attempt++) {
                        before = states(source, List.of(key)).get(key);
                        if (!fence.await(Duration.ofSeconds(30))) {
                            break;
                        }
                        KeyState t = states(target, List.of(key)).get(key);
                        KeyState after = states(source, List.of(key)).get(key);
                        why = difference(source, target, key, before, t);
                        if (why == null || difference(source, target, key, after, t) == null) {
                            why = null;
                            settled = true;
                        } else if (same(before, after)) {
                            settled = true; // the source held still and the target differs: a real mismatch
                        }
                    }
                    if (!settled) {
                        unsettled.add(Map.of("db", db, "key", display(key)));
                        continue;
                    }
                    if (why == null) {
                        continue;
                    }
                    boolean fixed = false;
                    if (repair) {
                        try {
                            repair(source, target, key, before);
                        } catch (redis.clients.jedis.exceptions.JedisDataException error) {
                            // e.g. a payload version the target cannot load: this key stays different, the others are repaired
                            org.slf4j.LoggerFactory.getLogger(RedisKeyParity.class).warn("could not repair key {} in db {}: {}", display(key), db,
                                    error.getMessage());
                        }
                        fixed = difference(source, target, key, states(source, List.of(key)).get(key), states(target, List.of(key)).get(key)) == null;
                        repaired += fixed ? 1 : 0;
                    }
                    String kind = why.equals("missing") || why.equals("extra") ? why : "different";
                    List<String> columns = kind.equals("different") ? List.of(why.split(",")) : List.of();
                    confirmed.add(new ValidationReport.Mismatch(Map.of("db", db, "key", display(key)), kind, columns, fixed));
                }
                compared += keys[0];
                mismatches += confirmed.size();
                results.add(new ValidationReport.TableResult("db" + db, keys[0], 1, suspects.isEmpty() ? 0 : 1, confirmed, unsettled, repaired));
            }
        }
        Double parity = compared == 0 ? null : Math.max(0, compared - mismatches) * 100.0 / compared;
        boolean unsettled = results.stream().anyMatch(r -> !r.unsettled().isEmpty());
        String state = mismatches > 0 ? "mismatch" : unsettled ? "inconclusive" : "passed";
        return new ValidationReport(mismatches == 0 && !unsettled, state, started.toString(), Instant.now().toString(), compared, mismatches,
                parity, repair, results, unsettled ? "some keys changed on the source through the recheck; validate again when writes are lower" : null);
    }

    private static boolean same(KeyState a, KeyState b) {
        return a.type().equals(b.type()) && Arrays.equals(a.dump(), b.dump()) && Math.abs(a.pttl() - b.pttl()) <= TTL_TOLERANCE_MILLIS
                && (a.pttl() < 0) == (b.pttl() < 0);
    }

    private static Map<String, KeyState> states(Side side, List<String> keys) {
        List<Response<String>> types = new ArrayList<>();
        List<Response<Long>> ttls = new ArrayList<>();
        List<Response<byte[]>> dumps = new ArrayList<>();
        // closed, not only synced: a cluster pipeline holds one pooled connection per node until then
        try (redis.clients.jedis.AbstractPipeline p = side.pipeline()) {
            for (String key : keys) {
                byte[] k = bytes(key);
                types.add(p.type(k));
                ttls.add(p.pttl(k));
                dumps.add(p.dump(k));
            }
            p.sync();
        }
        Map<String, KeyState> out = new LinkedHashMap<>();
        for (int i = 0; i < keys.size(); i++) {
            out.put(keys.get(i), new KeyState(types.get(i).get(), ttls.get(i).get(), dumps.get(i).get()));
        }
        return out;
    }

    /** Null when equal; else "missing", "extra", or the differing parts ("type", "ttl", "value", or field names). */
    static String difference(Side source, Side target, String key, KeyState s, KeyState t) {
        if (!s.exists() && !t.exists()) {
            return null;
        }
        if (!t.exists()) {
            return "missing";
        }
        if (!s.exists()) {
            return "extra";
        }
        if (!s.type().equals(t.type())) {
            return "type";
        }
        List<String> parts = new ArrayList<>();
        boolean ttlDiffers = (s.pttl() < 0) != (t.pttl() < 0) || Math.abs(s.pttl() - t.pttl()) > TTL_TOLERANCE_MILLIS;
        if (!Arrays.equals(s.dump(), t.dump())) {
            parts.addAll(valueDifferences(source.commands(), target.commands(), source.binary(), target.binary(), key, s.type()));
        }
        if (ttlDiffers) {
            parts.add("ttl");
        }
        return parts.isEmpty() ? null : String.join(",", parts);
    }

    /** Compares the values by type when the DUMP payloads differ (another encoding of the same value is not a difference). */
    static List<String> valueDifferences(redis.clients.jedis.commands.JedisCommands source, redis.clients.jedis.commands.JedisCommands target,
                                         redis.clients.jedis.commands.JedisBinaryCommands sourceBytes,
                                         redis.clients.jedis.commands.JedisBinaryCommands targetBytes, String key, String type) {
        byte[] k = bytes(key);
        switch (type) {
            case "string" -> {
                return Arrays.equals(sourceBytes.get(k), targetBytes.get(k)) ? List.of() : List.of("value");
            }
            case "hash" -> {
                Map<String, String> s = latin1(sourceBytes.hgetAll(k));
                Map<String, String> t = latin1(targetBytes.hgetAll(k));
                Set<String> fields = new java.util.TreeSet<>(s.keySet());
                fields.addAll(t.keySet());
                List<String> differing = new ArrayList<>();
                for (String field : fields) {
                    if (!Objects.equals(s.get(field), t.get(field))) {
                        differing.add("field " + display(field));
                    }
                }
                return differing;
            }
            case "list" -> {
                List<String> s = sourceBytes.lrange(k, 0, -1).stream().map(RedisKeyParity::latin1).toList();
                List<String> t = targetBytes.lrange(k, 0, -1).stream().map(RedisKeyParity::latin1).toList();
                return s.equals(t) ? List.of() : List.of("elements");
            }
            case "set" -> {
                Set<String> s = new java.util.HashSet<>(sourceBytes.smembers(k).stream().map(RedisKeyParity::latin1).toList());
                Set<String> t = new java.util.HashSet<>(targetBytes.smembers(k).stream().map(RedisKeyParity::latin1).toList());
                return s.equals(t) ? List.of() : List.of("members");
            }
            case "zset" -> {
                List<Tuple> s = sourceBytes.zrangeWithScores(k, 0, -1);
                List<Tuple> t = targetBytes.zrangeWithScores(k, 0, -1);
                return s.equals(t) ? List.of() : List.of("members");
            }
            case "stream" -> {
                String name = display(key);
                if (name.startsWith("0x") && !name.equals(new String(k, java.nio.charset.StandardCharsets.UTF_8))) {
                    return List.of("entries"); // a binary stream key: the payloads differ, entries are not compared one by one
                }
                String s = String.valueOf(source.xrange(name, "-", "+")) + source.xinfoGroups(name).size();
                String t = String.valueOf(target.xrange(name, "-", "+")) + target.xinfoGroups(name).size();
                return s.equals(t) ? List.of() : List.of("entries");
            }
            default -> {
                return List.of("value"); // module types: the payload is all there is to compare
            }
        }
    }

    private static String latin1(byte[] value) {
        return value == null ? null : new String(value, java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    private static Map<String, String> latin1(Map<byte[], byte[]> map) {
        Map<String, String> out = new TreeMap<>();
        map.forEach((f, v) -> out.put(latin1(f), latin1(v)));
        return out;
    }

    /** What the stream's full sync does: the source's payload restored with its absolute expiry, or the key removed. */
    private static void repair(Side sourceSide, Side targetSide, String key, KeyState s) {
        if (!s.exists()) {
            targetSide.binary().del(bytes(key));
            return;
        }
        KeyState now = states(sourceSide, List.of(key)).get(key); // DUMP and PTTL in one round trip
        if (!now.exists() || now.dump() == null) {
            targetSide.binary().del(bytes(key)); // expired or deleted since: the source no longer has it
            return;
        }
        // a relative TTL, measured on the source just now: no dependence on this machine's clock
        long ttl = Math.max(0, now.pttl());
        targetSide.binary().restore(bytes(key), ttl, now.dump(), RestoreParams.restoreParams().replace());
    }
}
