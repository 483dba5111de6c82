package io.migrator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.migrator.sandbox.Sandbox;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.SandboxEngine;
import io.migrator.sandbox.junit.SandboxExtension;
import io.migrator.sandbox.junit.SandboxServers;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisException;

/**
 * kill -9 of the worker inside a Redis cutover. Killed inside the fence (the applier held by `migrator pause`), before
 * the point of no return: its CLIENT PAUSE would lapse on its own after the budget and a margin; the restarted worker's
 * journal undoes the cutover at once (CLIENT UNPAUSE) and the application writes to the source again. Killed after the
 * point of no return (a switch program before the HAProxy step kills it): the restarted worker pauses, fences and switches
 * again and reaches CUT_OVER; HAProxy sends the application to the target, its ACL user has lost its writes on the old
 * source until `complete`, and every key written before the cutover is on the target. Killed while reverse replication
 * streams: what the application wrote on the new server while no worker ran reaches the old source after the restart.
 * Then a rollback killed after its point of no return (the same switch program, on the reverse plan): the restart
 * finishes it, HAProxy sends the application back to the old source with its writes there, and the migration streams
 * forward again.
 */
@ExtendWith(SandboxExtension.class)
class RedisCutoverKillIT {
    private static final int DB = 7;
    private final Workers workers = new Workers("redis-cutover-kill");
    private SandboxServers servers;
    private String app;

    @Test
    void aKilledCutoverIsUndoneBeforeItsPointOfNoReturnAndFinishedAfterIt(SandboxServers servers) throws Exception {
        assertThat(KillLoop.JAR).as("the shaded jar is built in the package phase").exists();
        this.servers = servers;
        servers.sandbox().up(EnumSet.of(SandboxEngine.REDIS), true);
        SandboxEndpoint source = servers.redisSource();
        SandboxEndpoint target = servers.redisTarget();
        String name = "rcutkill-" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        app = "app_" + name.substring(name.length() - 8);
        Path dir = Files.createDirectories(Path.of("target", name).toAbsolutePath());
        Files.writeString(dir.resolve("pw"), source.password());
        Path plan = dir.resolve("plan.yaml");
        Files.writeString(plan, """
                name: %1$s
                source: {engine: redis, host: %2$s, port: %3$d, password: "${file:%4$s}", databases: [%5$d]}
                target: {engine: redis, host: %6$s, port: %7$d, password: "${file:%4$s}"}
                cutover:
                  maxDowntime: 4s
                  maxLag: 5s
                  applicationUsers: [%8$s]
                  switch:
                    - command: ["sh", "-c", "f=%9$s/switched; case $MIGRATOR_PLAN in *-reverse) f=%9$s/rolled;; esac; test -f $f || { touch $f; kill -9 $PPID; sleep 5; }"]
                    - haproxy: {admin: "127.0.0.1:%10$d", backend: redis, server: primary}
                """.formatted(name, source.host(), source.port(), dir.resolve("pw"), DB, target.host(), target.port(), app, dir,
                Sandbox.REDIS_PROXY_ADMIN_PORT + servers.sandbox().portOffset()));
        String p = plan.toString();
        try {
            runtime("set server redis/primary addr 127.0.0.1 port " + source.port());
            for (SandboxEndpoint e : List.of(source, target)) {
                try (Jedis j = jedis(e)) {
                    j.flushDB();
                    j.aclSetUser(app, "reset", "on", ">app-pw", "~*", "&*", "+@all");
                }
            }
            try (Jedis s = jedis(source)) {
                for (int i = 0; i < 1000; i++) {
                    s.set("seed-" + i, Integer.toString(i));
                }
            }
            workers.start(p);
            workers.awaitPhase(p, "STREAMING");
            assertThat(CliRun.of("validate", p).exit()).isZero();

            // 1: killed inside the fence, before the point of no return, while the source is paused
            assertThat(CliRun.of("pause", p).exit()).isZero(); // the applier holds: the fence cannot be reached
            assertThat(appSet(source, "k-1")).isEqualTo("OK");
            CompletableFuture<CliRun> cutover = CompletableFuture.supplyAsync(() -> CliRun.of("cutover", p, "-o", "json"));
            long deadline = System.currentTimeMillis() + 30_000;
            while (!"CUTTING_OVER".equals(Workers.durablePhase(p)) && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            Thread.sleep(300); // inside the fence's wait
            workers.get(0).destroyForcibly();
            assertThat(workers.get(0).waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(cutover.get(60, TimeUnit.SECONDS).exit()).isNotZero();
            assertThat(Workers.durablePhase(p)).isEqualTo("CUTTING_OVER");
            assertThat(appSetWithin(source, "k-blocked", 500)).as("the pause outlives the worker").contains("timed out");
            workers.start(p);
            workers.awaitPhase(p, "STREAMING");
            assertThat(appSetWithin(source, "k-2", 2_000)).as("the restart undid the freeze at once: CLIENT UNPAUSE").isEqualTo("OK");
            assertThat(Files.exists(dir.resolve("switched"))).as("nothing was switched").isFalse();

            // 2: killed after the point of no return, by the switch program that runs before the HAProxy step
            CliRun.of("resume", p); // the new worker holds nothing: said for the record, whatever it answers
            assertThat(CliRun.of("wait", p, "--for", "lag<5s", "--timeout", "60s").exit()).isZero();
            assertThat(CliRun.of("validate", p).exit()).isZero();
            CliRun second = CliRun.of("cutover", p, "-o", "json");
            assertThat(second.exit()).as(second.out() + second.err()).isNotZero();
            assertThat(workers.get(1).waitFor(30, TimeUnit.SECONDS)).as("the switch program killed the worker").isTrue();
            assertThat(Workers.durablePhase(p)).isEqualTo("CUTTING_OVER");
            workers.start(p);
            workers.awaitPhase(p, "CUT_OVER");
            assertThat(runtime("show servers state redis")).as("HAProxy sends the application to the target").contains(" " + target.port() + " ");

            JsonNode status = CliRun.of("status", p, "-o", "json").json();
            assertThat(status.get("phase").asText()).isEqualTo("CUT_OVER");
            List<String> journal = new ArrayList<>();
            status.get("phases").forEach(e -> journal.add(e.get("detail").asText()));
            assertThat(String.join("\n", journal)).contains("cutover aborted").contains("cutover: point of no return, switching traffic")
                    .contains("cut over: writes open on the target");
            try (Jedis s = jedis(source); Jedis t = jedis(target)) {
                for (String key : List.of("seed-0", "seed-999", "k-1", "k-2")) {
                    assertThat(t.get(key)).as("%s is on the target", key).isEqualTo(s.get(key)).isNotNull();
                }
            }
            assertThat(appSetWithin(source, "k-after", 20_000)).as("the application's user lost its writes on the old source").contains("NOPERM");

            // 3: killed while reverse replication streams; the new server takes writes while no worker runs
            workers.awaitStatus(p, "direction", "reverse");
            assertThat(appSet(target, "n-1")).isEqualTo("OK");
            awaitKey(source, "n-1");
            workers.get(2).destroyForcibly();
            assertThat(workers.get(2).waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(appSet(target, "n-2")).isEqualTo("OK");
            try (Jedis t = jedis(target)) {
                t.incr("n-counter"); // counted once on the old source: a replayed INCR would count twice
            }
            workers.start(p);
            workers.awaitStatus(p, "direction", "reverse");
            awaitKey(source, "n-2");

            // 4: a rollback killed after its point of no return, by the switch program on the reverse plan
            workers.awaitStatus(p, "cutoverReady", "true");
            CliRun rollback = CliRun.of("rollback", p, "-o", "json");
            assertThat(rollback.exit()).as(rollback.out() + rollback.err()).isNotZero();
            assertThat(workers.get(3).waitFor(30, TimeUnit.SECONDS)).as("the switch program killed the worker").isTrue();
            assertThat(Files.exists(dir.resolve("rolled"))).isTrue();
            workers.start(p);
            workers.awaitPhase(p, "STREAMING"); // the rollback finished, and the migration streams forward again
            assertThat(runtime("show servers state redis")).as("HAProxy sends the application back to the old source")
                    .contains(" " + source.port() + " ");
            JsonNode back = CliRun.of("status", p, "-o", "json").json();
            assertThat(back.get("direction").asText()).isEqualTo("forward");
            assertThat(back.get("phases").toString()).contains("ROLLED_BACK");
            assertThat(appSetWithin(source, "o-1", 5_000)).as("the application writes on the old source again").isEqualTo("OK");
            assertThat(appSetWithin(target, "o-blocked", 5_000)).as("and no longer on the new server").contains("NOPERM");
            awaitKey(target, "o-1"); // forward again
            try (Jedis s = jedis(source); Jedis t = jedis(target)) {
                for (String key : List.of("seed-0", "seed-999", "k-1", "k-2", "n-1", "n-2", "o-1")) {
                    assertThat(s.get(key)).as("%s on the old source", key).isEqualTo(key.startsWith("seed-") ? key.substring(5) : key);
                    assertThat(t.get(key)).as("%s on the new server", key).isEqualTo(s.get(key));
                }
                assertThat(s.get("n-counter")).isEqualTo("1");
            }

            workers.get(4).destroy();
            assertThat(workers.get(4).waitFor(60, TimeUnit.SECONDS)).isTrue();
            CliRun complete = CliRun.of("complete", p, "--yes", "-o", "json");
            assertThat(complete.exit()).as(complete.out() + complete.err()).isZero();
            assertThat(complete.json().get("released").toString()).contains("ACL rules restored for " + app);
            assertThat(appSetWithin(target, "k-3", 2_000)).as("complete gave the new server's writes back").isEqualTo("OK");
        } finally {
            workers.close();
            runtime("set server redis/primary addr 127.0.0.1 port " + source.port());
            CliRun.of("complete", p, "--yes");
            for (SandboxEndpoint e : List.of(source, target)) {
                try (Jedis j = jedis(e)) {
                    j.sendCommand(redis.clients.jedis.Protocol.Command.CLIENT, "UNPAUSE");
                    j.flushDB();
                    j.aclDelUser(app);
                }
            }
        }
    }

    /** Until the server holds {@code key}, at most 30 s. */
    private static void awaitKey(SandboxEndpoint e, String key) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 30_000;
        try (Jedis j = jedis(e)) {
            while (!j.exists(key) && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
            }
            assertThat(j.get(key)).as("%s reached %s", key, e.port()).isEqualTo(key);
        }
    }

    private static Jedis jedis(SandboxEndpoint e) {
        Jedis j = new Jedis(e.host(), e.port(), 30_000);
        j.auth(e.password());
        j.select(DB);
        return j;
    }

    private String appSet(SandboxEndpoint e, String key) {
        return appSetWithin(e, key, 10_000);
    }

    /** One SET as the application's user straight into the server, waiting at most {@code millis}: "OK" or the error. */
    private String appSetWithin(SandboxEndpoint e, String key, int millis) {
        try (Jedis j = new Jedis(e.host(), e.port(), millis)) {
            j.auth(app, "app-pw");
            j.select(DB);
            return j.set(key, key);
        } catch (JedisException ex) {
            return String.valueOf(ex.getMessage()) + (ex.getCause() != null ? " " + ex.getCause().getMessage() : "");
        }
    }

    private String runtime(String command) throws Exception {
        int port = Sandbox.REDIS_PROXY_ADMIN_PORT + servers.sandbox().portOffset();
        try (Socket s = new Socket("127.0.0.1", port)) {
            OutputStream out = s.getOutputStream();
            out.write((command + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
