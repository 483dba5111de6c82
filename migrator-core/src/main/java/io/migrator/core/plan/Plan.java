package io.migrator.core.plan;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/** A validated migration plan. Built only by {@link PlanLoader}; immutable. */
public record Plan(String file, String name, Endpoint source, Endpoint target, TableFilter tables,
                   Snapshot snapshot, Cutover cutover, Control control, Validation validation, TableFilter keys, Network network) {
    public Plan(String file, String name, Endpoint source, Endpoint target, TableFilter tables, Snapshot snapshot, Cutover cutover,
                Control control, Validation validation, TableFilter keys) {
        this(file, name, source, target, tables, snapshot, cutover, control, validation, keys, Network.DEFAULT);
    }

    public Plan(String file, String name, Endpoint source, Endpoint target, TableFilter tables, Snapshot snapshot, Cutover cutover,
                Control control, Validation validation) {
        this(file, name, source, target, tables, snapshot, cutover, control, validation, TableFilter.ALL);
    }

    public Plan(String file, String name, Endpoint source, Endpoint target, TableFilter tables, Snapshot snapshot, Cutover cutover,
                Control control) {
        this(file, name, source, target, tables, snapshot, cutover, control, Validation.DEFAULT);
    }

    public Plan {
        validation = validation == null ? Validation.DEFAULT : validation;
        network = network == null ? Network.DEFAULT : network;
        keys = keys == null ? TableFilter.ALL : keys;
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(tables, "tables");
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(cutover, "cutover");
        Objects.requireNonNull(control, "control");
    }

    /** What a reverse direction's name ends with: its bookkeeping on the old source and its metrics go by it. */
    public static final String REVERSE_SUFFIX = "-reverse";

    /**
     * The reverse direction after a cutover: from the target (the application's server now) back to the old source, the
     * same tables, keys, cutover steps (a rollback is this plan's cutover: its switch steps point at its target, the old
     * source) and control endpoint, under {@link #reverseName}.
     */
    public Plan reversed() {
        return reversed(reverseName(name));
    }

    /** This plan the other way round under {@code name}: a reverse direction's own reverse is the forward migration again. */
    public Plan reversed(String name) {
        // Redis: the new server holds the databases the forward direction read (a target's own list is not read)
        Endpoint from = target.engine().family() == Engine.Family.REDIS ? target.withDatabases(source.databases()) : target;
        return new Plan(file, name, from, source, tables, snapshot, cutover, control, validation, keys, network);
    }

    /** {@code orders} → {@code orders-reverse}, kept within the 63 characters a name may have (a hash keeps long ones apart). */
    public static String reverseName(String name) {
        if (name.length() + REVERSE_SUFFIX.length() <= 63) {
            return name + REVERSE_SUFFIX;
        }
        String hash = Integer.toHexString(name.hashCode() & 0x7fffffff);
        return name.substring(0, 63 - REVERSE_SUFFIX.length() - hash.length() - 1) + "-" + hash + REVERSE_SUFFIX;
    }

    /** How the initial copy runs. */
    public record Snapshot(int parallelism, int chunkRows, long maxRowsPerSecond, int maxSourceThreadsRunning, boolean targetBinlog) {
        public Snapshot(int parallelism, int chunkRows, long maxRowsPerSecond, int maxSourceThreadsRunning) {
            this(parallelism, chunkRows, maxRowsPerSecond, maxSourceThreadsRunning, true);
        }

        public Snapshot {
            if (parallelism < 1 || chunkRows < 1 || maxRowsPerSecond < 0 || maxSourceThreadsRunning < 0) {
                throw new IllegalArgumentException("parallelism and chunkRows must be positive, limits not negative");
            }
        }

        public Snapshot(int parallelism, int chunkRows) {
            this(parallelism, chunkRows, 0, 0);
        }
    }

    /**
     * Validation inside `migrator run` and the defaults of `migrator validate`: {@code every} zero means no
     * scheduled validation.
     */
    public record Validation(Duration every, int chunkRows, int parallelism) {
        public static final Validation DEFAULT = new Validation(Duration.ZERO, 100_000, 2);

        public Validation {
            Objects.requireNonNull(every, "every");
            if (every.isNegative() || chunkRows < 1 || parallelism < 1) {
                throw new IllegalArgumentException("every not negative, chunkRows and parallelism positive");
            }
        }
    }

    /**
     * The cutover runbook's limits and steps: the write-freeze budget, the lag above which it refuses to start, how the
     * source's writes are frozen ({@code freezeCommand}/{@code unfreezeCommand} for {@code freeze: command}), and the
     * switch steps in order.
     */
    /**
     * The plan's cutover: the write-freeze budget, the lag it starts under, how a clean validation must be recent, the
     * freeze method (and its commands), the application's logins (the lasting freeze locks them on the old source, and
     * the target must have them) and the switch steps in order.
     */
    public record Cutover(Duration maxDowntime, Duration maxLag, String freeze, List<String> freezeCommand, List<String> unfreezeCommand,
                          List<SwitchStep> switchSteps, List<String> applicationUsers, Duration validatedWithin, boolean reverse,
                          String rollbackCache) {
        /** Without a rollback policy (rollback.cache). */
        public Cutover(Duration maxDowntime, Duration maxLag, String freeze, List<String> freezeCommand, List<String> unfreezeCommand,
                       List<SwitchStep> switchSteps, List<String> applicationUsers, Duration validatedWithin, boolean reverse) {
            this(maxDowntime, maxLag, freeze, freezeCommand, unfreezeCommand, switchSteps, applicationUsers, validatedWithin, reverse, "");
        }

        /** With reverse replication after the switch (the default of the SQL engines). */
        public Cutover(Duration maxDowntime, Duration maxLag, String freeze, List<String> freezeCommand, List<String> unfreezeCommand,
                       List<SwitchStep> switchSteps, List<String> applicationUsers, Duration validatedWithin) {
            this(maxDowntime, maxLag, freeze, freezeCommand, unfreezeCommand, switchSteps, applicationUsers, validatedWithin, true);
        }

        public Cutover {
            Objects.requireNonNull(maxDowntime, "maxDowntime");
            Objects.requireNonNull(maxLag, "maxLag");
            freezeCommand = freezeCommand == null ? List.of() : List.copyOf(freezeCommand);
            unfreezeCommand = unfreezeCommand == null ? List.of() : List.copyOf(unfreezeCommand);
            switchSteps = switchSteps == null ? List.of() : List.copyOf(switchSteps);
            applicationUsers = applicationUsers == null ? List.of() : List.copyOf(applicationUsers);
            validatedWithin = validatedWithin == null ? Duration.ofHours(24) : validatedWithin;
            rollbackCache = rollbackCache == null ? "" : rollbackCache;
        }

        /** The defaults with this budget (tests, and plans without a cutover section). */
        public Cutover(Duration maxDowntime) {
            this(maxDowntime, Duration.ofSeconds(1), null, List.of(), List.of(), List.of(), List.of(), null);
        }
    }

    /**
     * How the worker rides out network faults: the read timeout of its connections (also on each {@link Endpoint}), how
     * long a silent change stream may be before it is reconnected, and how long an outage it waits out.
     */
    public record Network(Duration readTimeout, Duration stallTimeout, Duration maxOutage) {
        public static final Network DEFAULT = new Network(Endpoint.DEFAULT_READ_TIMEOUT, Duration.ofMinutes(2), Duration.ofMinutes(30));

        public Network {
            Objects.requireNonNull(readTimeout, "readTimeout");
            Objects.requireNonNull(stallTimeout, "stallTimeout");
            Objects.requireNonNull(maxOutage, "maxOutage");
        }
    }

    /** Where the worker serves /metrics, the status and control API and the dashboard. */
    public record Control(String listenHost, int listenPort, Secret token) {
        public Control {
            token = token == null ? Secret.NONE : token;
        }

        public Control(String listenHost, int listenPort) {
            this(listenHost, listenPort, Secret.NONE);
        }

        public String listen() {
            return (listenHost.contains(":") ? "[" + listenHost + "]" : listenHost) + ":" + listenPort;
        }

        /** Parses {@code host:port} ({@code [v6]:port} too); IllegalArgumentException says what is wrong. */
        public static Control parse(String text) {
            return PlanBinder.parseListen(text);
        }

        /** The same endpoint on another address (from {@code migrator run --listen}). */
        public Control at(String host, int port) {
            return new Control(host, port, token);
        }

        /** Loopback only: 127.0.0.0/8, ::1 and localhost. Anything else needs a token. */
        public boolean loopback() {
            return isLoopback(listenHost);
        }

        /**
         * Whether {@code host} is {@code localhost} or a literal loopback address (an IPv4 address in 127.0.0.0/8, ::1 in
         * any spelling, with or without brackets), decided by parsing, never by a text prefix: {@code 127.attacker.example}
         * is a name anyone can point anywhere. No name is looked up.
         */
        public static boolean isLoopback(String host) {
            String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
            if (h.equalsIgnoreCase("localhost")) {
                return true;
            }
            java.util.regex.Matcher v4 = java.util.regex.Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})").matcher(h);
            if (v4.matches()) {
                for (int i = 1; i <= 4; i++) {
                    if (Integer.parseInt(v4.group(i)) > 255) {
                        return false;
                    }
                }
                return v4.group(1).equals("127");
            }
            if (h.contains(":") && h.matches("[0-9A-Fa-f:.]+")) { // an IPv6 literal: parsed, not looked up
                try {
                    return java.net.InetAddress.getByName(h).isLoopbackAddress();
                } catch (java.net.UnknownHostException e) {
                    return false;
                }
            }
            return false;
        }
    }
}
