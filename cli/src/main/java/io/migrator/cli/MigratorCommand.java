package io.migrator.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "migrator", mixinStandardHelpOptions = true, scope = picocli.CommandLine.ScopeType.INHERIT, versionProvider = VersionProvider.class,
        description = {"Zero-downtime database migrations: copy, stream, prove parity, cut over.",
                "MySQL, MariaDB, PostgreSQL and Redis, from self-managed servers onto managed services."},
        subcommands = {SandboxCommand.class, PlanCommand.class, RunCommand.class, StatusCommand.class, WaitCommand.class, PauseCommand.Pause.class, PauseCommand.Resume.class,
                ValidateCommand.class, SequencesCommand.class, CutoverCommand.class, RollbackCommand.class, CompleteCommand.class, DemoCommand.class},
        footer = {"", "Examples:",
                "  migrator sandbox up                      start throwaway source/target servers",
                "  migrator plan check plans/mariadb-to-mariadb.yaml",
                "  migrator -o json plan check plans/postgresql-to-postgresql.yaml"})
public final class MigratorCommand implements Runnable {
    @Mixin
    GlobalOptions global;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Where results and errors go; Main sets them (tests pass their own). */
    java.io.PrintStream out = System.out;
    java.io.PrintStream err = System.err;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
