package io.migrator.sandbox.junit;

import io.migrator.sandbox.Sandbox;
import io.migrator.sandbox.SandboxEndpoint;

/** The running sandbox as a test sees it. */
public record SandboxServers(Sandbox sandbox) {
    public SandboxEndpoint get(String name) {
        return sandbox.endpoint(name);
    }

    public SandboxEndpoint mariadbSource() {
        return get("mariadb-source");
    }

    public SandboxEndpoint mariadbTarget() {
        return get("mariadb-target");
    }

    public SandboxEndpoint postgresSource() {
        return get("postgresql-source");
    }

    public SandboxEndpoint postgresTarget() {
        return get("postgresql-target");
    }

    public SandboxEndpoint redisSource() {
        return get("redis-source");
    }

    public SandboxEndpoint redisTarget() {
        return get("redis-target");
    }

    public SandboxEndpoint redisCluster() {
        return get("redis-cluster");
    }
}
