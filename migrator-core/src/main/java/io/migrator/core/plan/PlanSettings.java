package io.migrator.core.plan;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/** Every key a plan accepts, declared once. {@link PlanBinder} reads exactly these; nothing else is allowed. */
public final class PlanSettings {
    static final String REQUIRED = "(required)";

    public static final Setting NAME = new Setting("name", "string `[a-z0-9_-]`, 1–63 characters", REQUIRED,
            "Identifies the migration: bookkeeping on the target, metrics labels and the status API use it.");
    public static final Setting SOURCE = new Setting("source", "section", REQUIRED,
            "The server the data moves from.");
    public static final Setting TARGET = new Setting("target", "section", REQUIRED,
            "The server the data moves to.");

    public static final Setting ENGINE = new Setting("source|target.engine", "`mysql` `mariadb` `postgresql` `redis`",
            REQUIRED, "Source and target must be of one family: MySQL/MariaDB, PostgreSQL or Redis.");
    public static final Setting HOST = new Setting("source|target.host", "host name or IP", REQUIRED,
            "Server address.");
    public static final Setting PORT = new Setting("source|target.port", "1–65535",
            "engine default (3306, 5432, 6379)", "Server port.");
    public static final Setting USER = new Setting("source|target.user", "string",
            "required for SQL engines; Redis: the default user", "Login user.");
    public static final Setting PASSWORD = new Setting("source|target.password", "string, usually `${env:NAME}` or `${file:/path}`",
            "none", "Login password. Resolved at load time, never logged or printed.");
    public static final Setting DATABASE = new Setting("source|target.database", "string",
            "required for SQL engines", "MySQL/MariaDB: the schema; PostgreSQL: the database. Not for Redis.");
    public static final Setting DATABASES = new Setting("source|target.databases", "list of integers ≥ 0",
            "`[0]`", "Redis only: the logical databases to move.");
    public static final Setting CLUSTER = new Setting("source|target.cluster", "boolean", "`false`",
            "Redis target only: the target is a Redis Cluster (ElastiCache cluster mode); keys are routed by slot.");

    public static final Setting TLS = new Setting("source|target.tls", "a mode, or a section with the keys below",
            "`prefer` for MySQL and PostgreSQL (the drivers' default), `disable` for MariaDB and Redis",
            "TLS on every connection migrator opens to this server (pools, the change stream, preflight, cutover). "
                    + "`tls: verify-full` alone checks the certificate against the JVM's trusted authorities (docs/plan.md, TLS).");
    public static final Setting TLS_MODE = new Setting("source|target.tls.mode", "`disable` `prefer` `require` `verify-ca` `verify-full`",
            "`verify-full` when `ca` is set, else `require`",
            "`prefer`: TLS when the server offers it, unchecked (MySQL and PostgreSQL only); `require`: always TLS, certificate "
                    + "unchecked; `verify-ca`: signed by `ca`; `verify-full`: signed by `ca` and naming `host` (RDS, Aurora, ElastiCache: use this).");
    public static final Setting TLS_CA = new Setting("source|target.tls.ca", "path to a PEM file", "the JVM's trusted authorities",
            "The certificate authorities that may sign the server's certificate (RDS: the region's bundle). Relative to the plan's folder.");
    public static final Setting TLS_CERT = new Setting("source|target.tls.cert", "path to a PEM file", "none",
            "A client certificate, for servers that ask for one (MySQL `REQUIRE X509`, PostgreSQL `clientcert`, Redis `tls-auth-clients`).");
    public static final Setting TLS_KEY = new Setting("source|target.tls.key", "path to a PEM file (PKCS#8 or RSA, unencrypted)", "none",
            "The client certificate's private key; keep it readable by migrator's user only.");
    public static final Setting TLS_PUBLIC_KEY_RETRIEVAL = new Setting("source|target.tls.allowPublicKeyRetrieval", "boolean", "`false`",
            "MySQL only: lets the driver fetch the server's RSA key to send a `caching_sha2_password` login without TLS (open to an "
                    + "impostor server); not needed with TLS.");

    public static final Setting TABLES = new Setting("tables", "section", "all tables",
            "Which tables move.");
    public static final Setting TABLES_INCLUDE = new Setting("tables.include", "list of glob patterns", "`[\"*\"]`",
            "`*` any characters, `?` one, `[a-z]` a set; a pattern with a dot matches `schema.table`.");
    public static final Setting TABLES_EXCLUDE = new Setting("tables.exclude", "list of glob patterns", "`[]`",
            "Tables matching any of these stay behind, even when included.");
    public static final Setting TABLES_KEYS = new Setting("tables.keys", "map of table (`orders` or `schema.orders`) to a list of columns",
            "none", "MySQL/MariaDB: for a table without a primary key, the unique index over NOT NULL columns that identifies its rows, "
                    + "instead of the first such index (`plan check` shows the key of every table). PostgreSQL: must be the table's "
                    + "REPLICA IDENTITY index, the columns its changes carry.");

    public static final Setting KEYS = new Setting("keys", "section", "all keys",
            "Redis only: which keys move (in every database of `source.databases`).");
    public static final Setting KEYS_INCLUDE = new Setting("keys.include", "list of glob patterns", "`[\"*\"]`",
            "`*` any characters, `?` one, `[a-z]` a set, matched against the whole key (`session:*`).");
    public static final Setting KEYS_EXCLUDE = new Setting("keys.exclude", "list of glob patterns", "`[]`",
            "Keys matching any of these stay behind, even when included. A command touching keys on both sides of the patterns "
                    + "(RENAME a b) stops the stream with a remedy; DEL, UNLINK, TOUCH and MSET are split.");

    public static final Setting SNAPSHOT = new Setting("snapshot", "section", "defaults below",
            "The initial copy.");
    public static final Setting SNAPSHOT_PARALLELISM = new Setting("snapshot.parallelism", "1–64", "`4`",
            "Chunks copied at once (source connections used by the copy).");
    public static final Setting SNAPSHOT_CHUNK_ROWS = new Setting("snapshot.chunkRows", "100–10000000", "`50000`",
            "Rows per chunk; a chunk and its done-mark commit together on the target.");

    public static final Setting SNAPSHOT_MAX_ROWS_PER_SECOND = new Setting("snapshot.maxRowsPerSecond", "0 or more", "`0` (no limit)",
            "Caps the copy's read rate across all workers, so the source keeps serving. Redis: keys restored per second by the full "
                    + "sync (keep it well above the write rate, or the source's replica output buffer overflows and the sync restarts).");
    public static final Setting SNAPSHOT_MAX_SOURCE_THREADS_RUNNING = new Setting("snapshot.maxSourceThreadsRunning", "0 or more",
            "`0` (no limit)", "MySQL/MariaDB: the copy pauses between chunks while the source's Threads_running is above this.");

    public static final Setting SNAPSHOT_TARGET_BINLOG = new Setting("snapshot.targetBinlog", "boolean", "`true`",
            "MySQL/MariaDB target: `false` keeps the copied rows out of the target's binlog (as myloader does by default): faster, "
                    + "but replicas of the target miss them. Needs SUPER or BINLOG ADMIN; not possible on RDS/Aurora. Streamed changes are always logged.");

    public static final Setting VALIDATION = new Setting("validation", "section", "defaults below",
            "Row parity checks: `migrator validate`, and on a schedule inside `migrator run`.");
    public static final Setting VALIDATION_EVERY = new Setting("validation.every", "duration ≥ 1m, or `off`", "`off`",
            "`migrator run` validates every table this often once STREAMING (results in status, metrics and `migrator.validation`).");
    public static final Setting VALIDATION_CHUNK_ROWS = new Setting("validation.chunkRows", "100–10000000", "`100000`",
            "Rows per checksummed key range; a range that differs is bisected at its median key down to 2000 rows, then compared row by row.");
    public static final Setting VALIDATION_PARALLELISM = new Setting("validation.parallelism", "1–64", "`2`",
            "Ranges checksummed at once; each range is summed on both servers at the same time (one connection on each side).");

    public static final Setting CUTOVER = new Setting("cutover", "section", "defaults below",
            "The cutover runbook (`migrator cutover`, docs/cutover.md): MySQL/MariaDB sources in this build; PostgreSQL and Redis "
                    + "sources are refused before anything is frozen.");
    public static final Setting CUTOVER_MAX_DOWNTIME = new Setting("cutover.maxDowntime", "duration (`500ms`, `30s`, `2m`)",
            "`5s`", "Hard budget for the write freeze, from the freeze to the target's opening; over it before the switch, the "
                    + "cutover aborts and the source is unfrozen.");

    public static final Setting CUTOVER_MAX_LAG = new Setting("cutover.maxLag", "duration", "`1s`",
            "The cutover refuses to start (exit 4) while the stream's lag is above this: no write freeze is paid for a drain that "
                    + "cannot fit the budget.");
    public static final Setting CUTOVER_VALIDATED_WITHIN = new Setting("cutover.validatedWithin", "duration", "`24h`",
            "The cutover refuses to start (exit 4) unless the last validation was clean and finished at most this long ago.");
    public static final Setting CUTOVER_APPLICATION_USERS = new Setting("cutover.applicationUsers", "list of logins (`app@%` on MySQL/MariaDB)",
            "none", "The application's logins (MySQL/MariaDB `user@host`, PostgreSQL role names): checked to exist on the target before the "
                    + "freeze; after the switch they are locked on the old source (MySQL/MariaDB: ACCOUNT LOCK; PostgreSQL: their DML on "
                    + "the plan's tables revoked, which is also the `revoke` freeze) and their sessions ended, the lasting freeze. Without "
                    + "them a MySQL/MariaDB stage-1 freeze is held while the worker runs.");
    public static final Setting CUTOVER_FREEZE = new Setting("cutover.freeze",
            "MySQL/MariaDB `lock-tables` `read-only` `command`; PostgreSQL `revoke` `pgbouncer` `command`; Redis `client-pause` `command`",
            "`lock-tables`, `revoke`, `client-pause`", "How writes stop on the source during the cutover.");
    public static final Setting CUTOVER_FREEZE_COMMAND = new Setting("cutover.freezeCommand", "list: program and arguments", "none",
            "With `freeze: command`: the program that stops the application's writes (exit 0 once none can commit).");
    public static final Setting CUTOVER_UNFREEZE_COMMAND = new Setting("cutover.unfreezeCommand", "list: program and arguments", "none",
            "With `freeze: command`: the program that lets them write again (an abort, a rollback's end).");
    public static final Setting CUTOVER_REVERSE = new Setting("cutover.reverse", "boolean",
            "`true` for MySQL/MariaDB and PostgreSQL; Redis: `true` when cutover.applicationUsers names users and the target is not a cluster",
            "After the switch, stream the target's changes back into the old source (reverse replication), so `migrator rollback` can go "
                    + "back; the cutover's preconditions then require what that stream needs (MySQL/MariaDB: the target's binlog on, ROW, FULL; "
                    + "PostgreSQL: the target's wal_level logical, a free replication slot, REPLICATION for migrator's target login; "
                    + "Redis: PSYNC on the target for migrator's user, the old source's application users under the lasting freeze; all: "
                    + "migrator may write on the old source). `false`: no reverse replication and no rollback.");
    public static final Setting CUTOVER_SWITCH = new Setting("cutover.switch", "list of steps", "none",
            "How traffic moves to the target, in order, after the fence and verification; each step is one of the four below.");
    public static final Setting CUTOVER_SWITCH_HAPROXY = new Setting("cutover.switch.haproxy", "section", "",
            "Repoints an HAProxy server at the target through the runtime API and ends the sessions on the old address.");
    public static final Setting CUTOVER_SWITCH_HAPROXY_ADMIN = new Setting("cutover.switch.haproxy.admin", "`host:port`", REQUIRED,
            "Where HAProxy's runtime API listens (a stats socket at admin level).");
    public static final Setting CUTOVER_SWITCH_HAPROXY_BACKEND = new Setting("cutover.switch.haproxy.backend", "string", REQUIRED,
            "The backend the application's frontend uses.");
    public static final Setting CUTOVER_SWITCH_HAPROXY_SERVER = new Setting("cutover.switch.haproxy.server", "string", REQUIRED,
            "The server of that backend that points at the source.");
    public static final Setting CUTOVER_SWITCH_HAPROXY_CONFIG = new Setting("cutover.switch.haproxy.config", "file path", "none",
            "HAProxy's configuration file: its `server` line is rewritten to the target's address, so a reload or restart keeps the switch.");
    public static final Setting CUTOVER_SWITCH_PGBOUNCER = new Setting("cutover.switch.pgbouncer", "section", "",
            "Repoints a pgbouncer database at the target (the [databases] entry, RELOAD, RESUME); clients queued meanwhile see no error.");
    public static final Setting CUTOVER_SWITCH_PGBOUNCER_ADMIN = new Setting("cutover.switch.pgbouncer.admin", "`host:port`", REQUIRED,
            "Where pgbouncer listens (its admin console is the database `pgbouncer` there).");
    public static final Setting CUTOVER_SWITCH_PGBOUNCER_DATABASE = new Setting("cutover.switch.pgbouncer.database", "string", REQUIRED,
            "The database entry to repoint (the name clients connect to); with `freeze: pgbouncer` also the one PAUSEd.");
    public static final Setting CUTOVER_SWITCH_PGBOUNCER_USER = new Setting("cutover.switch.pgbouncer.user", "string", "the source's user",
            "The admin console's login (one of pgbouncer's admin_users).");
    public static final Setting CUTOVER_SWITCH_PGBOUNCER_PASSWORD = new Setting("cutover.switch.pgbouncer.password", "secret", "the source's password",
            "Its password (`${env:...}` / `${file:...}`; never logged).");
    public static final Setting CUTOVER_SWITCH_PGBOUNCER_CONFIG = new Setting("cutover.switch.pgbouncer.config", "file path", "pgbouncer's own (SHOW CONFIG)",
            "pgbouncer's configuration file whose `[databases]` entry is rewritten to the target (host, port, dbname; other settings kept) "
                    + "before RELOAD; migrator must be able to write it.");
    public static final Setting CUTOVER_SWITCH_COMMAND = new Setting("cutover.switch.command", "list: program and arguments", "",
            "Runs a program of yours; MIGRATOR_PLAN, MIGRATOR_TARGET_HOST and MIGRATOR_TARGET_PORT are in its environment; exit 0 means done.");
    public static final Setting CUTOVER_SWITCH_HTTP = new Setting("cutover.switch.http", "section", "",
            "Sends an HTTP request with a JSON body naming the plan and the target; a 2xx answer means done.");
    public static final Setting CUTOVER_SWITCH_HTTP_URL = new Setting("cutover.switch.http.url", "`http://` or `https://` URL", REQUIRED,
            "Where to send it (a token in its query string is never logged).");
    public static final Setting CUTOVER_SWITCH_HTTP_METHOD = new Setting("cutover.switch.http.method", "`POST` `PUT` `PATCH` `GET`", "`POST`",
            "The request's method.");

    public static final Setting CONTROL = new Setting("control", "section", "defaults below",
            "The worker's HTTP endpoint: /metrics, /api/status, control API and dashboard.");
    public static final Setting CONTROL_LISTEN = new Setting("control.listen", "`host:port`", "`127.0.0.1:9464`",
            "Where `migrator run` listens; `migrator run --listen` overrides it (the thin commands then find the worker through "
                    + "its registration on the target). An address other than loopback needs `control.token`.");
    public static final Setting CONTROL_TOKEN = new Setting("control.token", "secret (`${env:X}`, `${file:path}`)", "none",
            "Bearer token every request must carry (`Authorization: Bearer ...`; the dashboard takes it as `/#token=...`). "
                    + "Required when `control.listen` is not loopback; `status`, `wait`, `pause`, `resume` and `validate` send it, to a "
                    + "worker found through its registration only when that address is on the `control.listen` host. Without it, a "
                    + "loopback worker makes its own token for requests that change something (docs/cli.md, Endpoint).");

    public static final Setting NETWORK = new Setting("network", "section", "defaults below",
            "How the worker rides out network faults, server restarts and failovers (docs/reliability.md).");
    public static final Setting NETWORK_READ_TIMEOUT = new Setting("network.readTimeout", "duration ≥ 1s", "`5m`",
            "How long a read on a database connection may wait for the server before the connection counts as dead (a half-open "
                    + "connection otherwise hangs for the operating system's keepalive, hours): it is closed and the work retried on a "
                    + "new one. Long statements (index builds) lift it for their duration.");
    public static final Setting NETWORK_STALL_TIMEOUT = new Setting("network.stallTimeout", "duration ≥ 5s", "`2m`",
            "A change stream that delivers nothing, not even the source's heartbeat (written every second), for this long while "
                    + "the applier waits is reconnected from the checkpoint.");
    public static final Setting NETWORK_MAX_OUTAGE = new Setting("network.maxOutage", "duration ≥ 1s", "`30m`",
            "How long the worker keeps reconnecting (backoff from 200 ms to 30 s) to a source or target that does not answer, "
                    + "shown as `degraded` in status and `migrator_degraded` meanwhile; never longer than the source's retention "
                    + "headroom. Then it stops with the error, and `migrator run` resumes from the checkpoint. A worker started while "
                    + "a server is down waits for it as long at its preflight (a refused login or certificate ends that at once, a host name "
                    + "that does not resolve after 60 s).");

    public static final Setting ROLLBACK = new Setting("rollback", "section", "none",
            "What `migrator rollback` does where no reverse stream can carry the new server's writes back.");
    public static final Setting ROLLBACK_CACHE = new Setting("rollback.cache", "`flush` or `keep`", "none",
            "Redis targets that refuse SYNC/PSYNC (ElastiCache) cannot be read back: no reverse replication (it implies "
                    + "`cutover.reverse: false`), and a rollback sends the application back to the old cache without the new server's "
                    + "writes. `flush`: the plan's keys on the old cache are removed first (before the rollback's freeze), so the "
                    + "application rebuilds them from its database; `keep`: the old cache serves what it held at the cutover (stale "
                    + "values until they expire or are written). Either way the migration then syncs the new server in full from the "
                    + "old cache, ready for another cutover. The cutover's preconditions say which applies. Standalone targets in this build.");

    public static final List<Setting> ALL = List.of(NAME, SOURCE, TARGET, ENGINE, HOST, PORT, USER, PASSWORD,
            DATABASE, DATABASES, CLUSTER, TLS, TLS_MODE, TLS_CA, TLS_CERT, TLS_KEY, TLS_PUBLIC_KEY_RETRIEVAL, TABLES, TABLES_INCLUDE, TABLES_EXCLUDE, TABLES_KEYS, KEYS, KEYS_INCLUDE, KEYS_EXCLUDE, SNAPSHOT, SNAPSHOT_PARALLELISM,
            SNAPSHOT_CHUNK_ROWS, SNAPSHOT_MAX_ROWS_PER_SECOND, SNAPSHOT_MAX_SOURCE_THREADS_RUNNING, SNAPSHOT_TARGET_BINLOG, VALIDATION, VALIDATION_EVERY,
            VALIDATION_CHUNK_ROWS, VALIDATION_PARALLELISM, CUTOVER, CUTOVER_MAX_DOWNTIME, CUTOVER_MAX_LAG, CUTOVER_VALIDATED_WITHIN, CUTOVER_APPLICATION_USERS, CUTOVER_FREEZE, CUTOVER_FREEZE_COMMAND, CUTOVER_UNFREEZE_COMMAND,
            CUTOVER_REVERSE, CUTOVER_SWITCH, CUTOVER_SWITCH_HAPROXY, CUTOVER_SWITCH_HAPROXY_ADMIN, CUTOVER_SWITCH_HAPROXY_BACKEND, CUTOVER_SWITCH_HAPROXY_SERVER, CUTOVER_SWITCH_HAPROXY_CONFIG,
            CUTOVER_SWITCH_PGBOUNCER, CUTOVER_SWITCH_PGBOUNCER_ADMIN, CUTOVER_SWITCH_PGBOUNCER_DATABASE, CUTOVER_SWITCH_PGBOUNCER_USER,
            CUTOVER_SWITCH_PGBOUNCER_PASSWORD, CUTOVER_SWITCH_PGBOUNCER_CONFIG, CUTOVER_SWITCH_COMMAND,
            CUTOVER_SWITCH_HTTP, CUTOVER_SWITCH_HTTP_URL, CUTOVER_SWITCH_HTTP_METHOD, CONTROL, CONTROL_LISTEN,
            CONTROL_TOKEN, NETWORK, NETWORK_READ_TIMEOUT, NETWORK_STALL_TIMEOUT, NETWORK_MAX_OUTAGE, ROLLBACK, ROLLBACK_CACHE);

    private PlanSettings() {
    }

    /** The keys allowed in a section ("" is the top level; "source|target" the endpoint sections). */
    static Set<String> keysOf(String section) {
        return ALL.stream().filter(s -> s.section().equals(section)).map(Setting::key)
                .collect(Collectors.toCollection(java.util.LinkedHashSet::new));
    }

    /** The Markdown table of docs/plan.md. */
    public static String referenceTable() {
        StringBuilder out = new StringBuilder("| key | takes | default | what it does |\n|---|---|---|---|\n");
        for (Setting s : ALL) {
            out.append("| `").append(s.path().replace("source|target", "{source,target}")).append("` | ")
                    .append(s.type()).append(" | ").append(s.defaultValue()).append(" | ").append(s.doc())
                    .append(" |\n");
        }
        return out.toString();
    }
}
