package io.migrator.core.plan;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Resolves {@code ${env:NAME}} and {@code ${file:/path}} references inside plan values. A relative file
 * path is taken from the plan file's folder. {@code $${} writes a literal {@code ${}. Errors name the
 * variable or file, never a value.
 */
public final class SecretResolver {
    private static final Pattern REFERENCE = Pattern.compile("\\$\\$\\{|\\$\\{([^}]*)}");

    private final Map<String, String> environment;
    private final Path baseDir;

    /** The folder relative paths start from (the plan's). */
    Path baseDir() {
        return baseDir;
    }

    public SecretResolver(Map<String, String> environment, Path baseDir) {
        this.environment = environment;
        this.baseDir = baseDir;
    }

    /** Thrown with a message and a remedy that name the reference but never a resolved value. */
    public static final class UnresolvedReference extends Exception {
        private static final long serialVersionUID = 1L;
        private final String remedy;

        UnresolvedReference(String message, String remedy) {
            super(message, null, false, false);
            this.remedy = remedy;
        }

        public String remedy() {
            return remedy;
        }
    }

    public String resolve(String text) throws UnresolvedReference {
        if (!text.contains("${")) {
            return text;
        }
        Matcher m = REFERENCE.matcher(text);
        StringBuilder out = new StringBuilder();
        int last = 0;
        while (m.find()) {
            out.append(text, last, m.start());
            last = m.end();
            if (m.group(0).equals("$${")) {
                out.append("${");
                continue;
            }
            out.append(lookup(m.group(1).trim()));
        }
        String rest = text.substring(last);
        if (rest.contains("${")) {
            throw new UnresolvedReference("'${' is never closed with '}'",
                    "write ${env:NAME} or ${file:/path}; write $${ for a literal ${");
        }
        out.append(rest);
        return out.toString();
    }

    private String lookup(String reference) throws UnresolvedReference {
        int colon = reference.indexOf(':');
        String kind = colon < 0 ? reference : reference.substring(0, colon);
        String name = colon < 0 ? "" : reference.substring(colon + 1).trim();
        switch (kind) {
            case "env": {
                if (name.isEmpty()) {
                    throw new UnresolvedReference("${env:} names no variable", "write ${env:NAME}");
                }
                String value = environment.get(name);
                if (value == null) {
                    throw new UnresolvedReference("environment variable " + name + " is not set",
                            "export " + name + " before running migrator, or use ${file:/path/to/secret}");
                }
                return value;
            }
            case "file": {
                if (name.isEmpty()) {
                    throw new UnresolvedReference("${file:} names no file", "write ${file:/path/to/secret}");
                }
                Path path = baseDir.resolve(name).normalize();
                try {
                    return stripFinalNewline(Files.readString(path, StandardCharsets.UTF_8));
                } catch (IOException e) {
                    throw new UnresolvedReference("secret file " + path + " cannot be read ("
                            + e.getClass().getSimpleName().replace("Exception", "") + ")",
                            "create the file or fix the path (relative paths start at the plan's folder)");
                }
            }
            default:
                throw new UnresolvedReference("'${" + kind + ":...}' is not a known reference",
                        "use ${env:NAME} or ${file:/path}");
        }
    }

    private static String stripFinalNewline(String s) {
        if (s.endsWith("\r\n")) {
            return s.substring(0, s.length() - 2);
        }
        return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
    }
}
