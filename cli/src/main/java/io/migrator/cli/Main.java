package io.migrator.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.ExitCode;
import io.migrator.core.error.MigratorException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/** Entry point: parses, runs one command, maps its outcome to the exit codes of the CLI contract. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(execute(args, System.out, System.err));
    }

    /** Runs a command line and returns its exit code (tests call this directly). */
    public static int execute(String[] args, PrintStream out, PrintStream err) {
        MigratorCommand root = new MigratorCommand();
        root.out = out;
        root.err = err;
        CommandLine cli = new CommandLine(root);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        cli.setExitCodeExceptionMapper(t -> t instanceof MigratorException m ? m.exitCode().code()
                : t instanceof CommandLine.ParameterException ? ExitCode.USAGE.code() : ExitCode.FAILURE.code());
        cli.setExecutionStrategy(parseResult -> {
            configureLogging(root.global);
            return new CommandLine.RunLast().execute(parseResult);
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            Output output = new Output(root.global, out, err);
            MigratorException failure = e instanceof MigratorException m ? m
                    : new MigratorException(ErrorCode.INTERNAL, "unexpected " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()), null, e);
            output.error(failure, Map.of());
            return failure.exitCode().code();
        });
        addExitCodeTable(cli);
        return cli.execute(args);
    }

    /** Every command's --help ends with the exit-code table of the contract. */
    private static void addExitCodeTable(CommandLine cli) {
        Map<String, String> table = new LinkedHashMap<>();
        for (ExitCode code : ExitCode.values()) {
            table.put(String.format("%3d", code.code()), code.meaning());
        }
        apply(cli, table);
    }

    private static void apply(CommandLine cli, Map<String, String> table) {
        CommandSpec spec = cli.getCommandSpec();
        spec.usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(table);
        cli.getSubcommands().values().forEach(sub -> apply(sub, table));
    }

    private static void configureLogging(GlobalOptions global) {
        Level level = global.quiet ? Level.ERROR : switch (global.verbosity()) {
            case 0 -> Level.WARN;
            case 1 -> Level.INFO;
            default -> Level.DEBUG;
        };
        if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof Logger logback) {
            logback.setLevel(level);
        }
        if (global.verbosity() >= 2 && LoggerFactory.getLogger("io.debezium") instanceof Logger debezium) {
            debezium.setLevel(Level.INFO);
        }
    }
}
