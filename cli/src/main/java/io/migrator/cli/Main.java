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
        // a usage error says what is wrong and where the help is, as every error does, in JSON too when -o json was given
        cli.setParameterExceptionHandler((e, argv) -> {
            String command = e.getCommandLine() == null ? "migrator" : e.getCommandLine().getCommandSpec().qualifiedName();
            MigratorException usage = new MigratorException(ErrorCode.USAGE, e.getMessage(), "run `" + command + " --help` for its "
                    + "options and the form of each value");
            GlobalOptions options = new GlobalOptions();
            options.output = wantsJson(argv) ? GlobalOptions.Format.json : GlobalOptions.Format.text;
            new Output(options, out, err).error(usage, Map.of());
            return ExitCode.USAGE.code();
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

    /** Whether the command line asks for JSON output, read from the words themselves (parsing may have failed). */
    static boolean wantsJson(String[] argv) {
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("-ojson") || a.equals("--output=json") || (a.equals("-o") || a.equals("--output")) && i + 1 < argv.length
                    && argv[i + 1].equals("json")) {
                return true;
            }
        }
        return false;
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
