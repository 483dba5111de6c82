package io.migrator.sandbox;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** A three-master Redis Cluster (no replicas), like an ElastiCache cluster-mode target. */
final class RedisClusterServer extends SandboxServer {
    private final List<RedisServer> nodes = new ArrayList<>();
    private final String password;

    RedisClusterServer(String name, Path dir, int firstPort, String password) {
        super(name, "target", dir, firstPort);
        this.password = password;
        for (int i = 0; i < 3; i++) {
            nodes.add(new RedisServer(name + "-" + (i + 1), "target", dir.resolve("node-" + (i + 1)), firstPort + i, password, true));
        }
    }

    @Override
    Optional<Long> pid() {
        // The cluster runs when every node runs; its pid is the first node's.
        List<Optional<Long>> pids = nodes.stream().map(RedisServer::pid).toList();
        return pids.stream().allMatch(Optional::isPresent) ? pids.get(0) : Optional.empty();
    }

    @Override
    void start(Tools tools, PrintStream progress) {
        for (RedisServer node : nodes) {
            node.start(tools, progress);
        }
        RedisServer first = nodes.get(0);
        if (first.cli(tools, "CLUSTER", "INFO").output().contains("cluster_slots_assigned:0")) {
            progress.println("creating the Redis Cluster " + name + " (3 masters)");
            List<String> args = new ArrayList<>(List.of("--cluster", "create"));
            nodes.forEach(n -> args.add(HOST + ":" + n.port()));
            args.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
            Processes.Result created = first.cli(tools, args.toArray(String[]::new));
            if (!created.ok()) {
                throw failure("redis-cli --cluster create", created, "run `migrator sandbox down`, delete " + dir + " and try again");
            }
        }
        await("cluster_state:ok on every node", Duration.ofSeconds(60), dir.resolve("node-1").resolve("redis.log"),
                () -> nodes.stream().allMatch(n -> n.cli(tools, "CLUSTER", "INFO").output().contains("cluster_state:ok")));
    }

    @Override
    void stop(Tools tools) {
        nodes.forEach(n -> n.stop(tools));
    }

    /** Stops any node that runs, even when the cluster as a whole is not up. */
    boolean anyRunning() {
        return nodes.stream().anyMatch(n -> n.pid().isPresent());
    }

    @Override
    SandboxEndpoint endpoint(String state, long pid) {
        List<String> addresses = nodes.stream().map(n -> HOST + ":" + n.port()).toList();
        return new SandboxEndpoint(name, SandboxEngine.REDIS, "target", HOST, port, "", password, "", addresses, state, pid);
    }

    static void checkPorts(int firstPort) {
        if (RedisServer.busPort(firstPort + 2) > 65_535) {
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, "Redis Cluster bus ports above 65535", "use a smaller --port-offset");
        }
    }
}
