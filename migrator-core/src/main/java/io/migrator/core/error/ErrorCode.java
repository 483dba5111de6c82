package io.migrator.core.error;

/**
 * Every error migrator reports, with its exit code and its documented cause and solution.
 * docs/error-codes.md is generated from this enum ({@code ErrorCodeDocsTest} keeps it in sync).
 */
public enum ErrorCode {
    PLAN_INVALID(ExitCode.INVALID_PLAN,
            "The plan file has one or more problems: unknown or missing keys, bad values, unresolved secrets.",
            "Fix every listed problem at the line:column given; `migrator plan check PLAN` repeats the static checks."),
    USAGE(ExitCode.USAGE,
            "The command line is not one migrator takes: an unknown command or option, a missing argument, or an option "
                    + "value it cannot read (a duration without its unit, a word where a number goes).",
            "Run `migrator COMMAND --help` for the command's options and the form of each value."),
    PLAN_NOT_FOUND(ExitCode.INVALID_PLAN,
            "The plan file does not exist or cannot be read.",
            "Pass the path of an existing YAML plan; examples are in plans/."),
    CANNOT_CONNECT(ExitCode.CANNOT_CONNECT,
            "A source or target server did not accept a connection (down, wrong host/port, wrong credentials, firewall).",
            "Check that the server runs and listens on the plan's host and port, and that user and password are right."),
    PREFLIGHT_FAILED(ExitCode.PRECONDITION,
            "A preflight assessment failed: a server setting, privilege or table shape the migration needs is missing.",
            "Apply the remedy printed with each failed assessment, then run `migrator plan check` again."),
    WORKER_RUNNING(ExitCode.PRECONDITION,
            "Another worker already runs this migration against the same target (two appliers would overwrite newer rows with older changes).",
            "Follow that worker with `migrator status PLAN` (it finds it wherever it listens), or stop it with SIGTERM before starting another; "
                    + "if its host is gone, end its session on the target as the message shows."),
    STALE_STATE(ExitCode.PRECONDITION,
            "The target holds this migration's state (phase, position, copied chunks) but not the tables it copied: they were dropped, "
                    + "or emptied while the source still has rows (the target was reset or restored). Resuming would stream changes onto "
                    + "rows that are not there.",
            "Start the migration over: `migrator complete PLAN` drops its state (and its slot), then `migrator run PLAN` copies afresh. "
                    + "If the target was restored by mistake, restore it to the state the migration left instead."),
    SOURCE_POSITION_LOST(ExitCode.PRECONDITION,
            "The source no longer holds its change log from the migration's checkpoint on: the binlog file was purged, or the "
                    + "replication slot was dropped or moved past the checkpoint (by hand, or by another plan of the same name). "
                    + "The changes since are gone; resuming would skip them without a word.",
            "Start the migration over: `migrator complete PLAN`, then `migrator run PLAN`. Keep the log longer meanwhile "
                    + "(binlog_expire_logs_seconds; on PostgreSQL, never drop or advance a migration's slot) and watch "
                    + "lag.retentionHeadroomSeconds in `migrator status`."),
    TARGET_LOST(ExitCode.FAILURE,
            "The target no longer holds what migrator applied to it, or refused a command of the stream: a Redis target restarted "
                    + "without persistence, failed over to a replica that lagged, was flushed or restored, or holds a key of another type "
                    + "than the source's (something else writes to it). Going on would leave those writes out without a word.",
            "Find what reset, failed over or wrote to the target, then `migrator run PLAN` again: it resumes from the position the "
                    + "target still holds, or synchronises every key in full when the target cannot vouch for its keys (the message "
                    + "says which)."),
    MIGRATION_NAME_TAKEN(ExitCode.PRECONDITION,
            "Another migration already uses this plan's name between these servers: the source feeds a migration of this name into "
                    + "another target, or the target holds a migration of this name started from another source. Going on would drop "
                    + "the other migration's replication slot or resume its state from the wrong log.",
            "Give this plan a name of its own (name:), or end the other migration first with `migrator complete` on its plan."),
    TIMED_OUT(ExitCode.PRECONDITION,
            "A wait or step did not reach its condition before its deadline.",
            "Raise the timeout, or look at `migrator status` for what holds the migration back."),
    CUTOVER_PRECONDITION(ExitCode.PRECONDITION,
            "A cutover precondition does not hold (lag over cutover.maxLag, no recent clean validation, a switch step unreachable, "
                    + "a missing freeze privilege, a long transaction on the source, an application login missing on the target, no "
                    + "worker running): nothing was frozen or changed.",
            "Apply the remedy printed with the failed check, then `migrator cutover PLAN --dry-run` until every check passes."),
    CUTOVER_ABORTED(ExitCode.PRECONDITION,
            "The cutover stopped before its point of no return (the first switch step): the freeze could not be taken, the target "
                    + "did not apply the fence position within the budget, verification found a difference, or the budget ran out. "
                    + "The source is writable again, the application's traffic never moved, and streaming goes on.",
            "Read the failed step's detail in the report; fix its cause (a lock on the target, a long transaction, lag) and cut over "
                    + "again, with a larger --max-downtime if the drain needs it."),
    CUTOVER_FAILED(ExitCode.FAILURE,
            "A cutover step failed after the point of no return (a switch step, the lasting freeze, opening the target): traffic may "
                    + "already go to the target, so the runbook does not undo; the report names the step and what was done.",
            "Fix what the failed step names (the proxy's runtime API, the program's exit), then `migrator cutover PLAN` again: it "
                    + "goes on forward from the failed step."),
    PARITY_MISMATCH(ExitCode.MISMATCH,
            "A validation found rows that differ between source and target, after rechecking them past the stream's position.",
            "List them with `migrator validate PLAN`, repair them with `migrator validate PLAN --repair`, and find out what wrote to the target."),
    NOT_AVAILABLE(ExitCode.FAILURE,
            "The command exists in the contract but its capability has not landed in this build.",
            "Use a build that includes the capability; `migrator --help` lists what each command does."),
    SANDBOX_FAILED(ExitCode.FAILURE,
            "A sandbox server could not be installed, initialized or started.",
            "Read the server log named in the message; `migrator sandbox down` then `sandbox up` starts afresh."),
    SANDBOX_PACKAGES_MISSING(ExitCode.PRECONDITION,
            "The Debian packages the sandbox needs are missing and cannot be installed without root.",
            "Run the printed apt-get command as root, then `migrator sandbox up` again."),
    SANDBOX_PORT_IN_USE(ExitCode.PRECONDITION,
            "A port the sandbox needs is taken by a process the sandbox did not start.",
            "Stop that process, or start the sandbox on other ports with --port-offset."),
    INTERNAL(ExitCode.FAILURE,
            "An unexpected error inside migrator.",
            "Run again with -vv for the stack trace and report it with the plan (passwords are never printed).");

    private final ExitCode exitCode;
    private final String cause;
    private final String solution;

    ErrorCode(ExitCode exitCode, String cause, String solution) {
        this.exitCode = exitCode;
        this.cause = cause;
        this.solution = solution;
    }

    public ExitCode exitCode() {
        return exitCode;
    }

    public String cause() {
        return cause;
    }

    public String solution() {
        return solution;
    }
}
