package io.migrator.connectors.redis;

import io.migrator.core.plan.Endpoint;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.util.JedisClusterCRC16;

/**
 * The target's connections: one for a standalone server; one per master for a Redis Cluster, with the slot map read by
 * {@code CLUSTER SLOTS} (read again after a MOVED reply or a lost connection). Commands are sent as raw argument vectors
 * and pipelined by the caller: send many, then read the replies.
 */
final class RedisTargetNodes implements AutoCloseable {
    static final int SLOTS = 16384;

    private final Endpoint endpoint;
    private final Duration timeout;
    private final Map<String, RespConnection> nodes = new LinkedHashMap<>();
    private final String[] owner = new String[SLOTS];

    RedisTargetNodes(Endpoint endpoint, Duration timeout) {
        this.endpoint = endpoint;
        this.timeout = timeout;
        refresh();
    }

    boolean cluster() {
        return endpoint.cluster();
    }

    /** The cluster slot of a key (0 on a standalone target, where slots do not matter). */
    int slot(byte[] key) {
        return cluster() ? JedisClusterCRC16.getSlot(key) : 0;
    }

    /** The connection that owns a slot (the only one on a standalone target). */
    RespConnection node(int slot) {
        if (nodes.isEmpty()) {
            throw new redis.clients.jedis.exceptions.JedisConnectionException("not connected to the target");
        }
        if (!cluster()) {
            return nodes.values().iterator().next();
        }
        String address = owner[slot];
        RespConnection c = address == null ? null : nodes.get(address);
        if (c == null) {
            throw new redis.clients.jedis.exceptions.JedisConnectionException("no cluster node serves slot " + slot);
        }
        return c;
    }

    /** Every master (the one server on a standalone target). */
    Collection<RespConnection> masters() {
        return nodes.values();
    }

    /**
     * (Re)connects and, on a cluster, reads the slot map again. The new connections replace the old ones only once all of
     * them are open and every slot has an owner; otherwise the old state stays and the failure is thrown (retriable).
     */
    void refresh() {
        Map<String, RespConnection> fresh = new LinkedHashMap<>();
        String[] freshOwner = new String[SLOTS];
        try {
            if (!cluster()) {
                fresh.put(endpoint.address(), connect(endpoint.host(), endpoint.port()));
            } else {
                try (RespConnection seed = connect(endpoint.host(), endpoint.port())) {
                    Object reply = seed.execute(argv("CLUSTER", "SLOTS"));
                    if (reply instanceof redis.clients.jedis.exceptions.JedisDataException e) {
                        throw new redis.clients.jedis.exceptions.JedisConnectionException("CLUSTER SLOTS: " + e.getMessage());
                    }
                    for (Object range : (List<?>) reply) {
                        List<?> r = (List<?>) range;
                        int from = (int) (long) (Long) r.get(0);
                        int to = (int) (long) (Long) r.get(1);
                        List<?> master = (List<?>) r.get(2);
                        String host = RedisCommandTable.text(master.get(0));
                        if (host.isEmpty() || host.equals("?")) {
                            host = endpoint.host();
                        }
                        int port = (int) (long) (Long) master.get(1);
                        String address = host + ":" + port;
                        String h = host;
                        fresh.computeIfAbsent(address, a -> connect(h, port));
                        for (int s = from; s <= to; s++) {
                            freshOwner[s] = address;
                        }
                    }
                }
                for (int s = 0; s < SLOTS; s++) {
                    if (freshOwner[s] == null) {
                        throw new redis.clients.jedis.exceptions.JedisConnectionException("the cluster serves no master for slot " + s
                                + " (cluster_state not ok)");
                    }
                }
            }
        } catch (RuntimeException e) {
            fresh.values().forEach(RedisTargetNodes::closeQuietly);
            throw e;
        }
        closeAll();
        nodes.putAll(fresh);
        System.arraycopy(freshOwner, 0, owner, 0, SLOTS);
    }

    /**
     * The connection to a node named by an ASK redirection ("host:port"): a master of the slot map, or a node of its own
     * (kept until the next refresh) while a slot moves there.
     */
    RespConnection at(String address) {
        RespConnection c = nodes.get(address);
        if (c == null) {
            int colon = address.lastIndexOf(':');
            c = connect(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)));
            nodes.put(address, c);
        }
        return c;
    }

    /** One slot each master owns: where a per-master marker key lives. */
    Map<RespConnection, Integer> slotPerMaster() {
        Map<RespConnection, Integer> out = new LinkedHashMap<>();
        for (int s = 0; s < SLOTS; s++) {
            RespConnection c = nodes.get(owner[s]);
            if (c != null) {
                out.putIfAbsent(c, s);
            }
        }
        return out;
    }

    private static void closeQuietly(RespConnection c) {
        try {
            c.close();
        } catch (RuntimeException ignored) {
            // a broken connection is replaced
        }
    }

    private RespConnection connect(String host, int port) {
        return new RespConnection(host, port, endpoint.user(), endpoint.password().isEmpty() ? null : endpoint.password().reveal(),
                (int) timeout.toMillis(), endpoint.tls());
    }

    /** Queues a raw command on a connection (sent with the next read). */
    static void send(RespConnection connection, byte[][] argv) {
        connection.send(argv);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[][] argv(String... parts) {
        byte[][] argv = new byte[parts.length][];
        for (int i = 0; i < parts.length; i++) {
            argv[i] = parts[i].getBytes(StandardCharsets.UTF_8);
        }
        return argv;
    }

    /** Hash tags that land in each slot, found once: {@code {tag}} routes a bookkeeping key to that slot. */
    private static volatile String[] slotTags;

    static String slotTag(int slot) {
        String[] tags = slotTags;
        if (tags == null) {
            tags = new String[SLOTS];
            int found = 0;
            for (int i = 0; found < SLOTS; i++) {
                String tag = Integer.toString(i, 36);
                int s = JedisClusterCRC16.getSlot(tag);
                if (tags[s] == null) {
                    tags[s] = tag;
                    found++;
                }
            }
            slotTags = tags;
        }
        return tags[slot];
    }

    private void closeAll() {
        new ArrayList<>(nodes.values()).forEach(RedisTargetNodes::closeQuietly);
        nodes.clear();
    }

    @Override
    public void close() {
        closeAll();
    }
}
