package io.migrator.cli;

import picocli.CommandLine.Model.CommandSpec;

/** Reaches the global options and output streams of the root command from any subcommand. */
final class CommandSupport {
    private CommandSupport() {
    }

    static Output output(CommandSpec spec) {
        MigratorCommand root = (MigratorCommand) spec.root().userObject();
        return new Output(root.global, root.out, root.err);
    }
}
