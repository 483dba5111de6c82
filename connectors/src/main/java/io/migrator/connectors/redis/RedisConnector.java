package io.migrator.connectors.redis;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.spi.EngineConnector;
import io.migrator.core.spi.Role;
import io.migrator.core.spi.ServerInfo;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/** Redis: the worker (PSYNC full sync and command stream, {@link RedisMigration}), key parity, preflight. */
public final class RedisConnector implements EngineConnector {
    @Override
    public Set<Engine> engines() {
        return Set.of(Engine.REDIS);
    }

    /** One client configuration for every connection to an endpoint: timeouts, name, credentials. */
    static DefaultJedisClientConfig clientConfig(Endpoint endpoint, Duration timeout) {
        DefaultJedisClientConfig.Builder config = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis((int) timeout.toMillis()).socketTimeoutMillis((int) timeout.toMillis())
                .clientName("migrator").autoNegotiateProtocol(false);
        if (!endpoint.user().isEmpty()) {
            config.user(endpoint.user());
        }
        if (!endpoint.password().isEmpty()) {
            config.password(endpoint.password().reveal());
        }
        if (endpoint.tls().mode() != io.migrator.core.plan.Tls.Mode.DISABLE) {
            io.migrator.core.tls.TlsMaterial tls = io.migrator.core.tls.TlsMaterial.of(endpoint.tls());
            config.ssl(true).sslSocketFactory(tls.socketFactory()).sslParameters(tls.parameters());
        }
        return config.build();
    }

    public static Jedis connect(Endpoint endpoint, Duration timeout) {
        return new Jedis(new HostAndPort(endpoint.host(), endpoint.port()), clientConfig(endpoint, timeout));
    }

    @Override
    public ServerInfo probe(Endpoint endpoint, Role role, Duration timeout) {
        String where = role.id() + " redis at " + endpoint.address();
        try (Jedis jedis = connect(endpoint, timeout)) {
            jedis.ping();
            Map<String, String> server = parseInfo(jedis.info("server"));
            Map<String, String> facts = new LinkedHashMap<>();
            facts.put("mode", server.getOrDefault("redis_mode", "unknown"));
            if ("cluster".equals(server.get("redis_mode"))) {
                facts.put("clusterState", parseInfo(jedis.clusterInfo()).getOrDefault("cluster_state", "unknown"));
            }
            return new ServerInfo("Redis", server.getOrDefault("redis_version", "unknown"), facts);
        } catch (JedisConnectionException e) {
            var tls = io.migrator.core.tls.TlsErrors.explain(e, role.id(), endpoint);
            if (tls.isPresent()) {
                throw tls.get();
            }
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "cannot reach " + where + ": "
                    + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()),
                    "check that Redis runs and listens on " + endpoint.address() + (endpoint.tls().mode() == io.migrator.core.plan.Tls.Mode.DISABLE
                            ? " (a port that speaks TLS only needs " + role.id() + ".tls: verify-full)" : "")
                            + "; for the sandbox: ./migrator sandbox up", e);
        } catch (JedisAccessControlException e) {
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, where + " refused the login: " + e.getMessage(),
                    "check " + role.id() + ".user and " + role.id() + ".password", e);
        } catch (JedisDataException e) {
            String message = e.getMessage() == null ? "" : e.getMessage();
            String remedy = message.startsWith("NOAUTH") ? "set " + role.id() + ".password: the server requires one"
                    : "check " + role.id() + ".user and " + role.id() + ".password";
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, where + " refused the connection: " + message, remedy, e);
        }
    }

    /** A Redis Cluster client seeded with the endpoint's address; it discovers the other nodes. */
    public static redis.clients.jedis.JedisCluster cluster(Endpoint endpoint, Duration timeout) {
        return new redis.clients.jedis.JedisCluster(java.util.Set.of(new HostAndPort(endpoint.host(), endpoint.port())),
                clientConfig(endpoint, timeout));
    }

    @Override
    public boolean resumes(io.migrator.core.plan.Plan plan) {
        try (RedisTargetNodes nodes = new RedisTargetNodes(plan.target(), Duration.ofSeconds(10))) {
            return RedisStoredState.hasCheckpoint(nodes, plan.name());
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    public java.util.List<io.migrator.core.spi.Assessment> preflight(io.migrator.core.plan.Plan plan, Role role, ServerInfo server) {
        try {
            return RedisPreflight.check(plan, role, Duration.ofSeconds(10));
        } catch (JedisConnectionException e) {
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "lost the " + role.id() + " Redis during preflight: " + e.getMessage(),
                    "check that it runs, then plan check again", e);
        }
    }

    /** Redis moves data its own way: a replica's full sync, then the command stream ({@link RedisMigration}). */
    @Override
    public io.migrator.core.spi.EnginePipeline pipeline(io.migrator.core.plan.Plan plan) {
        return new io.migrator.core.spi.EnginePipeline.OwnWorker() {
            @Override
            public io.migrator.core.spi.Worker worker() {
                return new RedisMigration(plan);
            }

            @Override
            public io.migrator.core.state.MigrationStatus storedStatus() {
                return RedisStoredState.stored(plan);
            }

            @Override
            public java.util.Optional<io.migrator.core.state.WorkerRecord> registeredWorker() {
                return RedisWorkerLease.holder(plan);
            }

            /** Key parity between Redis servers: a standalone source against a standalone or cluster target. */
            @Override
            public io.migrator.core.state.ValidationReport validate(boolean repair) {
                try {
                    return new RedisKeyParity(plan).validate(repair);
                } catch (JedisConnectionException e) {
                    throw new MigratorException(ErrorCode.CANNOT_CONNECT, "lost a Redis connection during validation: "
                            + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()), "check both servers run, then validate again", e);
                }
            }

            @Override
            public boolean rollbackPossible() {
                io.migrator.core.plan.Plan reversed = plan.reversed();
                if (RedisStoredState.stored(plan).phase() != io.migrator.core.state.Phase.CUT_OVER) {
                    return false;
                }
                // a reverse stream that runs (or will resume); under rollback.cache a rollback needs none
                return (RedisReverse.exists(reversed) || !plan.cutover().rollbackCache().isEmpty())
                        && !"cut-over".equals(RedisReverse.state(reversed));
            }

            @Override
            public java.util.List<String> release() {
                java.util.List<String> done = new java.util.ArrayList<>();
                String acl = RedisCutover.restoreAcl(plan); // the lasting freeze's rules are kept in the bookkeeping complete removes
                if (!acl.startsWith("no ")) {
                    done.add(acl);
                }
                if (RedisStoredState.stored(plan).phase() == io.migrator.core.state.Phase.CUT_OVER) {
                    done.add(RedisCutover.unpause(plan)); // the old source's pause, renewed past the point of no return
                }
                if (plan.cutover().reverse()) {
                    io.migrator.core.plan.Plan reversed = plan.reversed();
                    String back = RedisCutover.restoreAcl(reversed); // a rollback's lasting freeze on the new server, if one is left
                    if (!back.startsWith("no ")) {
                        done.add(back);
                    }
                    long keys = RedisStoredState.bookkeepingKeys(reversed);
                    if (keys > 0) {
                        RedisStoredState.forget(reversed);
                        done.add("reverse replication " + reversed.name() + " ended: " + keys + " bookkeeping key(s) removed from the old source");
                    }
                }
                return done;
            }

            @Override
            public java.util.List<String> complete() {
                return RedisStoredState.forget(plan);
            }

            @Override
            public java.util.List<String> completionPreview() {
                java.util.List<String> would = new java.util.ArrayList<>();
                if (RedisStoredState.stored(plan).phase() == io.migrator.core.state.Phase.CUT_OVER) {
                    would.add("the lasting freeze on the old source ends: the application users' ACL rules kept at the cutover given back, "
                            + "the old source's write pause ended");
                }
                if (plan.cutover().reverse() && RedisStoredState.bookkeepingKeys(plan.reversed()) > 0) {
                    would.add("reverse replication " + plan.reversed().name() + " ends (no rollback afterwards): "
                            + RedisStoredState.bookkeepingKeys(plan.reversed()) + " bookkeeping key(s) on the old source removed");
                }
                would.add(RedisStoredState.bookkeepingKeys(plan) + " bookkeeping keys " + RedisCheckpoint.PREFIX + plan.name()
                        + ":* on the target (checkpoint, journal, slot offsets)");
                return would;
            }
        };
    }

    static Map<String, String> parseInfo(String info) {
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : info.split("\r?\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && !line.startsWith("#")) {
                values.put(line.substring(0, colon), line.substring(colon + 1).trim());
            }
        }
        return values;
    }
}
