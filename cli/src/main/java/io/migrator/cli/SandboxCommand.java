package io.migrator.cli;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.sandbox.Sandbox;
import io.migrator.sandbox.SandboxEndpoint;
import io.migrator.sandbox.SandboxEngine;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "sandbox", description = "Throwaway, CDC-ready source/target servers on loopback.",
        subcommands = {SandboxCommand.Up.class, SandboxCommand.Down.class, SandboxCommand.Status.class},
        footer = {"", "Examples:", "  migrator sandbox up", "  migrator sandbox up --engines mariadb,redis -o json",
                "  migrator sandbox status", "  migrator sandbox down"})
final class SandboxCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Options shared by up, down and status. */
    static final class Location {
        @Option(names = "--dir", paramLabel = "DIR", description = "Where the servers keep their data (default: .sandbox in the repository).")
        Path dir;

        @Option(names = "--port-offset", paramLabel = "N", description = "Added to every default port (default: the offset the folder was started with, else 0).")
        Integer portOffset;

        Sandbox open(Output output) {
            return new Sandbox(dir != null ? dir : Sandbox.defaultDir(), portOffset, output.progress());
        }
    }

    /** The result of a sandbox command, printed as text or JSON. */
    record SandboxResult(boolean ok, String dir, int portOffset, List<SandboxEndpoint> servers) {
    }

    static void print(Output output, Sandbox sandbox, List<SandboxEndpoint> servers, boolean showCredentials) {
        if (output.json()) {
            List<SandboxEndpoint> shown = showCredentials ? servers : servers.stream().map(s -> new SandboxEndpoint(s.name(), s.engine(),
                    s.role(), s.host(), s.port(), s.user(), null, s.database(), s.nodes(), s.state(), s.pid())).toList();
            output.json(new SandboxResult(true, sandbox.dir().toString(), sandbox.portOffset(), shown));
            return;
        }
        output.out().println("sandbox " + sandbox.dir() + (sandbox.portOffset() == 0 ? "" : " (port offset " + sandbox.portOffset() + ")"));
        for (SandboxEndpoint s : servers) {
            String state = s.running() ? output.good("running") : s.state();
            String address = s.nodes().isEmpty() ? s.host() + ":" + s.port() : String.join(",", s.nodes());
            StringBuilder line = new StringBuilder(String.format("  %-18s %-8s %-7s %-22s", s.name(), s.role(), state, address));
            if (!s.user().isEmpty()) {
                line.append(" user ").append(s.user());
            }
            if (!s.database().isEmpty()) {
                line.append(" database ").append(s.database());
            }
            line.append("  password in ").append(sandbox.dir().resolve("secrets").resolve(s.engine().id() + ".password"));
            output.out().println(line);
        }
        java.nio.file.Path ca = sandbox.dir().resolve("tls").resolve("ca.pem");
        if (java.nio.file.Files.isRegularFile(ca)) {
            output.out().println("  TLS: every server above but the cluster offers it; tls: {mode: verify-full, ca: " + ca
                    + "}; Redis on port + " + io.migrator.sandbox.SandboxTls.REDIS_TLS_PORT_OFFSET + " (docs/plan.md, TLS)");
        }
    }

    @Command(name = "up", description = {"Starts source and target servers configured for CDC; idempotent.",
            "Installs the Debian packages (mariadb-server, postgresql-15, redis-server) when missing."},
            footer = {"", "Default ports: MariaDB 13306/13307, PostgreSQL 15432/15433, Redis 16379/16380, Redis Cluster 17001-17003;",
                    "with --proxies: HAProxy 13300 (runtime API 13399), pgbouncer 15400, HAProxy 16300 (runtime API 16399).",
                    "TLS with the sandbox's own CA (.sandbox/tls/ca.pem) on every server but the cluster; Redis's on 16479/16480.",
                    "", "Examples:", "  migrator sandbox up", "  migrator sandbox up --engines postgresql -o json",
                    "  migrator sandbox up --engines mariadb --proxies",
                    "  migrator sandbox up --dir /tmp/sbx --port-offset 100"})
    static final class Up implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        Location location = new Location();

        @Option(names = "--engines", split = ",", paramLabel = "ENGINE", description = "Which pairs to start: mariadb, postgresql, redis (default: all).")
        List<String> engines;

        @Option(names = "--proxies", description = {"Also start the application's endpoints a cutover switches, in front of each source:",
                "HAProxy on 127.0.0.1:13300 for MariaDB (runtime API 13399), pgbouncer on 127.0.0.1:15400 for PostgreSQL",
                "(admin console: database pgbouncer), HAProxy on 127.0.0.1:16300 for Redis (runtime API 16399); --port-offset moves them."})
        boolean proxies;

        @Override
        public Integer call() {
            Output output = CommandSupport.output(spec);
            Set<SandboxEngine> wanted = EnumSet.noneOf(SandboxEngine.class);
            if (engines == null || engines.isEmpty()) {
                wanted.addAll(Sandbox.allEngines());
            } else {
                for (String e : engines) {
                    wanted.add(SandboxEngine.fromId(e).orElseThrow(() -> new MigratorException(ErrorCode.SANDBOX_FAILED,
                            "unknown sandbox engine '" + e + "'", "use --engines with mariadb, postgresql, redis")));
                }
            }
            Sandbox sandbox = location.open(output);
            List<SandboxEndpoint> servers = sandbox.up(wanted, proxies);
            print(output, sandbox, servers, true);
            return 0;
        }
    }

    @Command(name = "down", description = "Stops the servers `sandbox up` started in this folder, and nothing else. Data stays.",
            footer = {"", "Examples:", "  migrator sandbox down", "  migrator sandbox down --dir /tmp/sbx"})
    static final class Down implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        Location location = new Location();

        @Override
        public Integer call() {
            Output output = CommandSupport.output(spec);
            Sandbox sandbox = location.open(output);
            print(output, sandbox, sandbox.down(), false);
            return 0;
        }
    }

    @Command(name = "status", description = "Lists the sandbox servers and whether they run.",
            footer = {"", "Examples:", "  migrator sandbox status", "  migrator sandbox status -o json"})
    static final class Status implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        Location location = new Location();

        @Override
        public Integer call() {
            Output output = CommandSupport.output(spec);
            Sandbox sandbox = location.open(output);
            print(output, sandbox, sandbox.status(), true);
            return 0;
        }
    }
}
