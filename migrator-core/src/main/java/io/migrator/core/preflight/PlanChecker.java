package io.migrator.core.preflight;

import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Plan;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.EngineConnector;
import io.migrator.core.spi.EngineConnectors;
import io.migrator.core.spi.Role;
import io.migrator.core.spi.ServerInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Connectivity and preflight for a loaded plan: reaches both servers, then asks each engine's connector
 * for its assessments. Every finding is collected; nothing stops at the first.
 */
public final class PlanChecker {
    /**
     * How long {@link #requireWaiting} waits for a host name that does not resolve: a DNS hiccup ends in seconds and an RDS
     * failover changes where a name points, not whether it resolves; a typo in the plan never ends.
     */
    static final Duration NAME_WAIT = Duration.ofSeconds(60);

    private final EngineConnectors connectors;
    private final Duration timeout;
    private final Duration nameWait;

    public PlanChecker(EngineConnectors connectors, Duration timeout) {
        this(connectors, timeout, NAME_WAIT);
    }

    PlanChecker(EngineConnectors connectors, Duration timeout, Duration nameWait) {
        this.connectors = connectors;
        this.timeout = timeout;
        this.nameWait = nameWait;
    }

    public PlanCheckReport check(Plan plan) {
        return check(plan, new java.util.HashSet<>(), new java.util.HashSet<>());
    }

    /**
     * As {@link #check(Plan)}; the roles whose server did not answer because of the network (not a refusal) go to {@code down},
     * those whose host name did not resolve to {@code unresolved} as well.
     */
    private PlanCheckReport check(Plan plan, java.util.Set<Role> down, java.util.Set<Role> unresolved) {
        List<PlanCheckReport.EndpointCheck> endpoints = new ArrayList<>();
        List<Assessment> assessments = new ArrayList<>();
        for (Role role : Role.values()) {
            Endpoint endpoint = role == Role.SOURCE ? plan.source() : plan.target();
            EngineConnector connector = connectors.forEngine(endpoint.engine());
            try {
                ServerInfo info = connector.probe(endpoint, role, timeout);
                endpoints.add(new PlanCheckReport.EndpointCheck(role.id(), endpoint.engine().id(), endpoint.address(), true,
                        info.product(), info.version(), null, null));
                assessments.add(tls(role, endpoint));
                assessments.addAll(common(role, endpoint, info));
                assessments.addAll(connector.preflight(plan, role, info));
            } catch (MigratorException e) {
                endpoints.add(new PlanCheckReport.EndpointCheck(role.id(), endpoint.engine().id(), endpoint.address(), false,
                        null, null, e.getMessage(), e.remedy()));
                if (outage(e)) {
                    down.add(role);
                }
                if (unresolved(e)) {
                    unresolved.add(role);
                }
            }
        }
        return new PlanCheckReport(plan.file(), plan.name(), endpoints, assessments);
    }

    /**
     * Whether a server did not answer because it is down or out of reach (refused, reset, timed out, starting up or
     * shutting down, its name not resolving) — an outage a restart or failover ends — rather than because it refused this
     * login or certificate, which waiting does not change.
     */
    static boolean outage(Throwable failure) {
        if (io.migrator.core.tls.TlsErrors.isTlsRefusal(failure)) {
            return false;
        }
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.sql.SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("28")) {
                return false; // the login was refused
            }
        }
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof io.migrator.core.error.RetriableException || t instanceof java.net.ConnectException
                    || t instanceof java.net.SocketTimeoutException || t instanceof java.net.NoRouteToHostException
                    || t instanceof java.net.UnknownHostException || t instanceof java.net.SocketException
                    || t instanceof java.io.EOFException) {
                return true;
            }
            if (t instanceof java.sql.SQLException sql && sql.getSQLState() != null
                    && (sql.getSQLState().startsWith("08") || sql.getSQLState().equals("57P03") || sql.getSQLState().equals("57P01"))) {
                return true; // no connection, or the server is starting up or shutting down
            }
        }
        return false;
    }

    static boolean unresolved(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.net.UnknownHostException) {
                return true;
            }
        }
        return false;
    }

    /**
     * The gate of `migrator run` when a server is down: a worker started while its source or target restarts or fails over
     * (an RDS reboot or Multi-AZ failover takes minutes; a runbook may start the worker at any moment) waits for it with
     * backoff (1 s doubling to 30 s) for {@code network.maxOutage}, saying on every attempt which server it waits for and
     * why. A server that answers and refuses (a password, a certificate) or a failed assessment ends it at once, as does
     * {@code stop} (SIGTERM, Ctrl-C), returning null then; a host name that does not resolve ends it after
     * {@link #NAME_WAIT} (or network.maxOutage, if shorter).
     */
    public PlanCheckReport requireWaiting(Plan plan, java.util.function.BooleanSupplier stop) {
        long started = System.nanoTime();
        long maxNanos = plan.network().maxOutage().toNanos();
        long backoff = 1_000;
        long unresolvedSince = -1;
        for (int attempt = 1; ; attempt++) {
            java.util.Set<Role> down = new java.util.HashSet<>();
            java.util.Set<Role> unresolved = new java.util.HashSet<>();
            PlanCheckReport report = check(plan, down, unresolved);
            long waited = System.nanoTime() - started;
            unresolvedSince = unresolved.isEmpty() ? -1 : unresolvedSince < 0 ? System.nanoTime() : unresolvedSince;
            if (unresolvedSince >= 0 && System.nanoTime() - unresolvedSince >= Math.min(nameWait.toNanos(), maxNanos)) {
                org.slf4j.LoggerFactory.getLogger(PlanChecker.class).warn("the host name of the {} has not resolved for {} s: a name "
                        + "that does not resolve is waited for at most {} s (a typo in the plan's host never ends)", unresolved.stream()
                        .map(Role::id).sorted().collect(java.util.stream.Collectors.joining(" and ")),
                        (System.nanoTime() - unresolvedSince) / 1_000_000_000L, Math.min(nameWait.toSeconds(), plan.network().maxOutage().toSeconds()));
                return require(plan, report, started);
            }
            boolean unreachable = report.endpoints().stream().anyMatch(e -> !e.reachable());
            if (!unreachable || down.size() < report.endpoints().stream().filter(e -> !e.reachable()).count() || waited > maxNanos) {
                if (attempt > 1 && unreachable) {
                    org.slf4j.LoggerFactory.getLogger(PlanChecker.class).warn("gave up waiting after {} s (network.maxOutage: {} s)",
                            waited / 1_000_000_000L, plan.network().maxOutage().toSeconds());
                }
                return require(plan, report, started);
            }
            for (PlanCheckReport.EndpointCheck e : report.endpoints()) {
                if (!e.reachable()) {
                    org.slf4j.LoggerFactory.getLogger(PlanChecker.class).warn("waiting for the {} at {}, which does not answer ({}): "
                            + "attempt {}, {} s of at most {} s (network.maxOutage); next try in {} s (SIGTERM or Ctrl-C stops)",
                            e.role(), e.address(), e.error(), attempt, waited / 1_000_000_000L, plan.network().maxOutage().toSeconds(),
                            backoff / 1000);
                }
            }
            long until = System.currentTimeMillis() + backoff;
            while (System.currentTimeMillis() < until) {
                if (stop.getAsBoolean()) {
                    return null;
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
            backoff = Math.min(backoff * 2, 30_000);
        }
    }

    /**
     * Checks that judge the start of a migration: the slot and sender it will take (a restart already has them), the log
     * retention and target memory estimated for the whole copy, target tables that already exist or hold rows. When the
     * migration resumes, their failures are warnings at the gate.
     */
    static final java.util.Set<String> COPY_TIME = java.util.Set.of("replication slots", "WAL senders", "WAL retention",
            "binlog retention", "memory", "table definitions", "empty target");

    /**
     * The gate of `migrator run`: the same checks as `migrator plan check`, before the worker changes anything on either
     * server (a table published without a replica identity, for one, would make the source refuse the application's
     * updates). Warnings are logged; a server that does not answer or a failed assessment throws, naming every problem.
     */
    public PlanCheckReport require(Plan plan) {
        long started = System.nanoTime();
        return require(plan, check(plan), started);
    }

    private PlanCheckReport require(Plan plan, PlanCheckReport checked, long started) {
        PlanCheckReport report = checked;
        if (report.allReachable() && report.assessments().stream().anyMatch(a -> a.severity() == Assessment.Severity.FAIL
                && COPY_TIME.contains(a.check())) && connectors.forEngine(plan.target().engine()).resumes(plan)) {
            report = new PlanCheckReport(report.plan(), report.name(), report.endpoints(), report.assessments().stream()
                    .map(a -> a.severity() == Assessment.Severity.FAIL && COPY_TIME.contains(a.check())
                            ? Assessment.warn(a.role(), a.check(), a.finding() + " (a check for the start of the copy; this migration "
                            + "resumes past it)", a.remedy()) : a).toList());
        }
        io.migrator.core.error.MigratorException failure = report.failure();
        if (failure != null) {
            throw failure;
        }
        org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PlanChecker.class);
        long warnings = 0;
        for (Assessment a : report.assessments()) {
            if (a.severity() == Assessment.Severity.WARN) {
                warnings++;
                log.warn("preflight: {} {}: {} (remedy: {})", a.role().id(), a.check(), a.finding(), a.remedy());
            }
        }
        log.info("preflight passed in {} ms: {} checks on {} and {}, {} warning(s)", (System.nanoTime() - started) / 1_000_000,
                report.assessments().size(), plan.source().address(), plan.target().address(), warnings);
        return report;
    }

    /**
     * How the connections to this server are protected: off the local host, plain text (or TLS only if offered) and an
     * unchecked certificate are warnings — passwords and every row cross the network, and an impostor is not noticed.
     */
    static Assessment tls(Role role, Endpoint endpoint) {
        io.migrator.core.plan.Tls tls = endpoint.tls();
        String key = role.id() + ".tls";
        String said = key + ": " + tls.mode().id();
        if (loopback(endpoint.host())) {
            return Assessment.ok(role, "tls", said + " (the server is on this host)");
        }
        String fix = "set " + key + ": {mode: verify-full, ca: <the server's CA bundle>} (RDS/Aurora: the region's bundle; "
                + "ElastiCache: in-transit encryption on, the JVM's authorities suffice)";
        return switch (tls.mode()) {
            case DISABLE -> Assessment.warn(role, "tls", said + ": passwords and rows cross the network to " + endpoint.address()
                    + " in plain text", fix);
            case PREFER -> Assessment.warn(role, "tls", said + ": TLS only if " + endpoint.address() + " offers it, and its certificate "
                    + "is not checked", fix);
            case REQUIRE -> Assessment.warn(role, "tls", said + ": encrypted, but the certificate of " + endpoint.address()
                    + " is not checked (an impostor would not be noticed)", fix);
            case VERIFY_CA -> Assessment.ok(role, "tls", said + ": encrypted, certificate signed by "
                    + (tls.ca() == null ? "the JVM's trusted authorities" : tls.ca()) + " (host name not checked)");
            case VERIFY_FULL -> Assessment.ok(role, "tls", said + ": encrypted, certificate signed by "
                    + (tls.ca() == null ? "the JVM's trusted authorities" : tls.ca()) + " and naming " + endpoint.host());
        };
    }

    private static boolean loopback(String host) {
        String h = host.toLowerCase(java.util.Locale.ROOT);
        if (h.equals("localhost") || h.endsWith(".localhost")) {
            return true;
        }
        if (!h.matches("[0-9.]+|\\[?[0-9a-f:]+\\]?")) {
            return false; // a name: resolving it here would ask DNS at every check
        }
        try {
            return java.net.InetAddress.getByName(h.replace("[", "").replace("]", "")).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /** Checks every engine shares: the named database exists. */
    private static List<Assessment> common(Role role, Endpoint endpoint, ServerInfo info) {
        String exists = info.facts().get("databaseExists");
        if (exists == null) {
            return List.of();
        }
        if (Boolean.parseBoolean(exists)) {
            return List.of(Assessment.ok(role, "database exists", "database '" + endpoint.database() + "' exists"));
        }
        boolean postgres = endpoint.engine().family() == io.migrator.core.plan.Engine.Family.POSTGRESQL;
        if (role == Role.TARGET && !postgres) {
            // a MySQL/MariaDB target database is created by the worker (CREATE DATABASE IF NOT EXISTS); PostgreSQL's cannot
            // be created from a session, which needs a database to connect to
            return List.of(Assessment.warn(role, "database exists", "database '" + endpoint.database() + "' does not exist on the "
                    + "target (" + endpoint.address() + ") yet: `migrator run` creates it", "nothing to do if that is intended; "
                    + "otherwise fix target.database"));
        }
        String create = postgres
                ? "CREATE DATABASE \"" + endpoint.database().replace("\"", "\"\"") + "\""
                : "CREATE DATABASE `" + endpoint.database().replace("`", "``") + "`";
        return List.of(Assessment.fail(role, "database exists", "database '" + endpoint.database() + "' does not exist on the "
                + role.id() + " (" + endpoint.address() + ")", role == Role.SOURCE
                ? "fix " + role.id() + ".database: the source must hold the data to move"
                : "create it on the target: " + create));
    }
}
