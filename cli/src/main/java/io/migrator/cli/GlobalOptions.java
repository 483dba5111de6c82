package io.migrator.cli;

import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** Options every command takes, before or after the command name. */
public final class GlobalOptions {
    public enum Format { text, json }

    @Option(names = {"-o", "--output"}, scope = ScopeType.INHERIT, paramLabel = "text|json",
            description = "Output format: text for people, json for scripts (default: ${DEFAULT-VALUE}).")
    Format output = Format.text;

    @Option(names = "-v", scope = ScopeType.INHERIT,
            description = "More detail on stderr; repeat (-vv) for debug logs and stack traces.")
    boolean[] verbose = new boolean[0];

    @Option(names = {"-q", "--quiet"}, scope = ScopeType.INHERIT, description = "Only errors and the result.")
    boolean quiet;

    @Option(names = "--no-color", scope = ScopeType.INHERIT, description = "No ANSI colors (also when NO_COLOR is set).")
    boolean noColor;

    public boolean json() {
        return output == Format.json;
    }

    public int verbosity() {
        return verbose.length;
    }
}
