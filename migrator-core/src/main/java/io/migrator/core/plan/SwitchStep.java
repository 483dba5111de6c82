package io.migrator.core.plan;

import java.util.List;
import java.util.Objects;

/**
 * One step of the cutover's switch, as the plan lists it under {@code cutover.switch}, in order: the application's
 * traffic moves to the target by these. The first step that can send writes to the target is the cutover's point of no
 * return.
 */
public sealed interface SwitchStep permits SwitchStep.Haproxy, SwitchStep.Pgbouncer, SwitchStep.Command, SwitchStep.Http {
    /** What the report calls the step. */
    String describe();

    /**
     * HAProxy's runtime API at {@code admin} (host:port): server {@code backend/server} repointed at the target, its
     * sessions on the old address shut down; {@code config}, when given, is the configuration file whose server line is
     * rewritten to the new address so a reload or restart keeps it.
     */
    record Haproxy(String admin, String backend, String server, String config) implements SwitchStep {
        public Haproxy {
            Objects.requireNonNull(admin, "admin");
            Objects.requireNonNull(backend, "backend");
            Objects.requireNonNull(server, "server");
        }

        public Haproxy(String admin, String backend, String server) {
            this(admin, backend, server, null);
        }

        @Override
        public String describe() {
            return "haproxy " + backend + "/" + server + " at " + admin;
        }
    }

    /**
     * pgbouncer's admin console at {@code admin} (host:port): database {@code database} repointed at the target by its
     * {@code [databases]} entry in {@code config} (pgbouncer's own file when null: SHOW CONFIG names it), then RELOAD and
     * RESUME. The console login is {@code user}/{@code password}, the source's when not given.
     */
    record Pgbouncer(String admin, String database, String user, Secret password, String config) implements SwitchStep {
        public Pgbouncer {
            Objects.requireNonNull(admin, "admin");
            Objects.requireNonNull(database, "database");
            password = password == null ? Secret.NONE : password;
        }

        public Pgbouncer(String admin, String database) {
            this(admin, database, null, null, null);
        }

        @Override
        public String describe() {
            return "pgbouncer database " + database + " at " + admin;
        }
    }

    /** A program of the user's, run with the plan name and the target's host and port in MIGRATOR_* variables. */
    record Command(List<String> argv) implements SwitchStep {
        public Command {
            argv = List.copyOf(argv);
            if (argv.isEmpty()) {
                throw new IllegalArgumentException("a command needs at least the program");
            }
        }

        /** The program only: its arguments may carry resolved secrets. */
        @Override
        public String describe() {
            return "command " + argv.get(0) + (argv.size() > 1 ? " (" + (argv.size() - 1) + " argument" + (argv.size() > 2 ? "s" : "") + ")" : "");
        }
    }

    /** An HTTP request (a JSON body naming the plan and the target); a 2xx answer means done. */
    record Http(String url, String method) implements SwitchStep {
        public Http {
            Objects.requireNonNull(url, "url");
            Objects.requireNonNull(method, "method");
        }

        /** Without its query string or user info, which may carry a token. */
        @Override
        public String describe() {
            int query = url.indexOf('?');
            String shown = query < 0 ? url : url.substring(0, query) + "?...";
            return "http " + method + " " + shown.replaceFirst("^(https?://)[^/@]*@", "$1...@");
        }
    }
}
