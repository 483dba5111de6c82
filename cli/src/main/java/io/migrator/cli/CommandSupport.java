package io.migrator.cli;

import picocli.CommandLine.Model.CommandSpec;

/** Reaches the global options and output streams of the root command from any subcommand. */
final class CommandSupport {
    private CommandSupport() {
    }

    /** A duration option's value; a value that is not one is a usage error (exit 2) naming the option. */
    static java.time.Duration duration(CommandSpec spec, String option, String value) {
        try {
            return io.migrator.core.plan.Durations.parse(value);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), option + " '" + value
                    + "' is not a duration: write a number with its unit, e.g. 500ms, 10s, 5m");
        }
    }

    static Output output(CommandSpec spec) {
        MigratorCommand root = (MigratorCommand) spec.root().userObject();
        return new Output(root.global, root.out, root.err);
    }
}
