package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.connectors.redis.RedisData.Running;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.Phase;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.SandboxTls;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A Redis Cluster target that speaks TLS, as ElastiCache's cluster mode with in-transit encryption does: a throwaway
 * cluster of three masters whose clients and bus use TLS (tls-cluster yes; a plain port too, for this test's own
 * reads), the plan pointed at one node's TLS port with verify-full. The slot map read over TLS names the nodes' TLS
 * ports; the full sync and the stream reach every master over TLS; each master then holds exactly the keys of its slots,
 * equal to the source's, read over its plain port.
 */
@ExtendWith(SandboxExtension.class)
@Timeout(300)
class RedisClusterTlsIT {
    private static final String PW = "cluster-tls-pw";

    @TempDir
    Path dir;

    private final List<Process> nodes = new ArrayList<>();

    @Test
    void syncsAndStreamsIntoAClusterOverVerifiedTls(SandboxServers servers) throws Exception {
        SandboxEndpoint source = servers.redisSource();
        SandboxTls tls = SandboxTls.ensure(servers.sandbox().dir(), System.out);
        int[] plain = new int[3];
        int[] secure = new int[3];
        int[] bus = new int[3];
        try {
            for (int i = 0; i < 3; i++) {
                int[] ports = freePorts(3);
                plain[i] = ports[0];
                secure[i] = ports[1];
                bus[i] = ports[2];
                startNode(i, ports[0], ports[1], ports[2], tls);
            }
            for (int port : plain) {
                awaitPing(port).close();
            }
            // the nodes meet over their TLS bus ports and split the slots (what redis-cli --cluster create does, without its
            // guess of the bus port)
            try (Jedis first = new Jedis("127.0.0.1", plain[0], 10_000)) {
                first.auth(PW);
                for (int i = 1; i < 3; i++) {
                    assertThat(first.sendCommand(redis.clients.jedis.Protocol.Command.CLUSTER, "MEET", "127.0.0.1",
                            Integer.toString(secure[i]), Integer.toString(bus[i]))).isNotNull();
                }
            }
            for (int i = 0; i < 3; i++) {
                try (Jedis node = new Jedis("127.0.0.1", plain[i], 10_000)) {
                    node.auth(PW);
                    int from = i * 16384 / 3;
                    int to = (i + 1) * 16384 / 3 - 1;
                    node.sendCommand(redis.clients.jedis.Protocol.Command.CLUSTER, "ADDSLOTSRANGE", Integer.toString(from), Integer.toString(to));
                }
            }
            awaitClusterOk(plain);

            try (Jedis s = RedisData.jedis(source, 0)) {
                s.flushDB();
                RedisData.seed(s, "ctls:", 1200, false);
            }
            String yaml = """
                    name: redis-cluster-tls
                    source: {engine: redis, host: %s, port: %d, password: "${env:PW}", databases: [0]}
                    target: {engine: redis, host: 127.0.0.1, port: %d, password: "${env:TPW}", cluster: true, tls: {mode: verify-full, ca: '%s'}}
                    """.formatted(source.host(), source.port(), secure[0], tls.ca());
            Plan plan = new PlanLoader(Map.of("PW", source.password(), "TPW", PW)).parse("c.yaml", yaml, Path.of("."));
            RedisStoredState.forget(plan);
            Running running = RedisData.start(plan);
            try {
                RedisData.await("streaming", running, () -> running.worker().status().phase() == Phase.STREAMING);
                try (Jedis s = RedisData.jedis(source, 0)) {
                    for (int i = 0; i < 300; i++) {
                        s.set("ctls:streamed:" + i, "v" + i);
                        s.incr("ctls:counter");
                    }
                    s.del("ctls:streamed:7");
                }
                RedisData.awaitCaughtUp(source, running);
                List<String> targetKeys = new ArrayList<>();
                List<Jedis> masters = new ArrayList<>();
                try (Jedis s = RedisData.jedis(source, 0)) {
                    for (int port : plain) {
                        Jedis node = new Jedis("127.0.0.1", port, 10_000);
                        node.auth(PW);
                        masters.add(node);
                        List<String> own = RedisData.keys(node, "ctls:");
                        assertThat(own).as("master on %d holds keys of its own slots", port).isNotEmpty();
                        for (String key : own) {
                            assertThat(ownerPort(node, key)).as("slot owner of %s", key).isEqualTo(port);
                        }
                        targetKeys.addAll(own);
                    }
                    RedisData.assertSame(s, key -> RedisData.value(masterOf(masters, plain, new String(key, StandardCharsets.ISO_8859_1)), key),
                            targetKeys, "ctls:", "TLS cluster");
                    assertThat(masterOf(masters, plain, "ctls:counter").get("ctls:counter")).isEqualTo("300");
                } finally {
                    masters.forEach(Jedis::close);
                }
                assertThat(new RedisKeyParity(plan).validate(false).ok()).as("key parity, itself over TLS to the cluster").isTrue();
            } finally {
                running.halt();
                RedisStoredState.forget(plan);
            }
        } finally {
            for (Process p : nodes) {
                p.destroy();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            try (Jedis s = RedisData.jedis(source, 0)) {
                s.flushDB();
            }
        }
    }

    /** The plain port of the master that serves a key's slot, by the cluster's own answer. */
    private static int ownerPort(Jedis node, String key) {
        long slot = redis.clients.jedis.util.JedisClusterCRC16.getSlot(key.getBytes(StandardCharsets.ISO_8859_1)); // keys are bytes
        for (Object range : node.clusterSlots()) {
            List<?> r = (List<?>) range;
            if ((Long) r.get(0) <= slot && slot <= (Long) r.get(1)) {
                return (int) (long) (Long) ((List<?>) r.get(2)).get(1);
            }
        }
        throw new AssertionError("no owner for slot " + slot);
    }

    private static Jedis masterOf(List<Jedis> masters, int[] plain, String key) {
        int port = ownerPort(masters.get(0), key);
        for (int i = 0; i < plain.length; i++) {
            if (plain[i] == port) {
                return masters.get(i);
            }
        }
        throw new AssertionError("no master on " + port);
    }

    private void startNode(int i, int port, int tlsPort, int busPort, SandboxTls tls) throws Exception {
        Path home = Files.createDirectories(dir.resolve("node-" + i));
        String conf = String.join("\n",
                "bind 127.0.0.1", "port " + port, "tls-port " + tlsPort, "cluster-port " + busPort, "cluster-enabled yes",
                "cluster-config-file " + home.resolve("nodes.conf"), "dir " + home, "save \"\"", "appendonly no",
                "requirepass " + PW, "masterauth " + PW, "tls-cert-file " + tls.serverCert(), "tls-key-file " + tls.serverKey(),
                "tls-ca-cert-file " + tls.ca(), "tls-auth-clients optional",
                // the bus authenticates both ends: a node connecting to another presents a client certificate
                "tls-client-cert-file " + tls.clientCert(), "tls-client-key-file " + tls.clientKey(), "tls-cluster yes", "tls-replication yes",
                "cluster-node-timeout 5000", "");
        Path file = home.resolve("redis.conf");
        Files.writeString(file, conf);
        nodes.add(new ProcessBuilder(tool("redis-server"), file.toString()).redirectErrorStream(true)
                .redirectOutput(home.resolve("redis.log").toFile()).start());
    }

    private static String tool(String name) {
        return List.of(Path.of("/usr/bin", name), Path.of("/usr/local/bin", name)).stream().filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new AssertionError(name + " is not installed")).toString();
    }

    /** Ports free right now; a bus port's own port must be free too, so each is checked as its own socket. */
    private static int[] freePorts(int n) throws Exception {
        int[] out = new int[n];
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0);
                held.add(s);
                out[i] = s.getLocalPort();
            }
        } finally {
            for (ServerSocket s : held) {
                s.close();
            }
        }
        return out;
    }

    private static Jedis awaitPing(int port) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 20_000;
        while (true) {
            try {
                Jedis j = new Jedis("127.0.0.1", port, 2_000);
                j.auth(PW);
                j.ping();
                return j;
            } catch (RuntimeException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw new AssertionError("the throwaway cluster node did not answer on " + port, e);
                }
                Thread.sleep(100);
            }
        }
    }

    private static void awaitClusterOk(int[] plain) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (true) {
            boolean ok = true;
            for (int port : plain) {
                try (Jedis j = new Jedis("127.0.0.1", port, 2_000)) {
                    j.auth(PW);
                    ok &= j.clusterInfo().contains("cluster_state:ok");
                } catch (RuntimeException e) {
                    ok = false;
                }
            }
            if (ok) {
                return;
            }
            assertThat(System.currentTimeMillis()).as("cluster_state:ok on every node").isLessThan(deadline);
            Thread.sleep(200);
        }
    }
}
