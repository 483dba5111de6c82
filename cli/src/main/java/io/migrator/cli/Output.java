package io.migrator.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.migrator.core.error.MigratorException;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;

/** Prints results on stdout (text or JSON from the same record) and progress and errors on stderr. */
public final class Output {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Output.class);
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL);

    private final GlobalOptions options;
    private final PrintStream out;
    private final PrintStream err;
    private final boolean color;

    public Output(GlobalOptions options, PrintStream out, PrintStream err) {
        this.options = options;
        this.out = out;
        this.err = err;
        this.color = !options.noColor && System.getenv("NO_COLOR") == null && System.console() != null && !options.json();
    }

    public boolean json() {
        return options.json();
    }

    public PrintStream out() {
        return out;
    }

    /** Where progress lines go: stderr, or nowhere with -q. */
    public PrintStream progress() {
        return options.quiet ? new PrintStream(java.io.OutputStream.nullOutputStream()) : err;
    }

    public void json(Object value) {
        try {
            out.println(JSON.writeValueAsString(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot render JSON", e);
        }
    }

    public String good(String text) {
        return color ? "\u001b[32m" + text + "\u001b[0m" : text;
    }

    public String bad(String text) {
        return color ? "\u001b[31m" + text + "\u001b[0m" : text;
    }

    public String warn(String text) {
        return color ? "\u001b[33m" + text + "\u001b[0m" : text;
    }

    /** One clear line (and its remedy) on stderr, or the JSON error object on stdout. */
    public void error(MigratorException e, Map<String, Object> extra) {
        if (options.json()) {
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("code", e.code().name());
            error.put("message", e.getMessage());
            error.put("remedy", e.remedy());
            Map<String, Object> document = new LinkedHashMap<>();
            document.put("ok", false);
            document.put("error", error);
            document.putAll(extra);
            json(document);
        } else {
            err.println(bad("error: ") + e.getMessage());
            err.println("  remedy: " + e.remedy());
        }
        LOG.debug("stack trace of the error above", e);
    }
}
