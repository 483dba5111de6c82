package io.migrator.core.plan;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/** Loads a plan file: YAML with positions, secrets resolved, every problem reported at once. */
public final class PlanLoader {
    private final Map<String, String> environment;

    public PlanLoader() {
        this(System.getenv());
    }

    public PlanLoader(Map<String, String> environment) {
        this.environment = Map.copyOf(environment);
    }

    /**
     * @throws InvalidPlanException with every problem found
     * @throws MigratorException ({@link ErrorCode#PLAN_NOT_FOUND}) when the file cannot be read
     */
    /** A plan is a few KB of YAML; anything past this is another file passed by mistake. */
    static final long MAX_PLAN_BYTES = 1 << 20;

    public Plan load(Path file) {
        String text;
        try {
            long size = Files.size(file);
            if (size > MAX_PLAN_BYTES) {
                throw new MigratorException(ErrorCode.PLAN_INVALID, "plan file " + file + " holds " + size + " bytes; a plan is a few "
                        + "KB of YAML (at most " + MAX_PLAN_BYTES + " bytes are read)", "pass the plan's YAML file, not a dump or a log");
            }
            text = utf8(file, Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new MigratorException(ErrorCode.PLAN_NOT_FOUND, "plan file " + file + " does not exist",
                    "pass the path of a YAML plan; examples are in plans/");
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.PLAN_NOT_FOUND, "plan file " + file + " cannot be read: " + e.getMessage(),
                    "check the path and its permissions");
        }
        Path dir = file.toAbsolutePath().getParent();
        return parse(file.toString(), text, dir);
    }

    /** The file's text; a file that is not UTF-8 text (or holds NUL bytes: a binary) is named with the first bad byte. */
    private static String utf8(Path file, byte[] bytes) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                throw new MigratorException(ErrorCode.PLAN_INVALID, "plan file " + file + " is not text: a NUL byte at offset " + i,
                        "pass the plan's YAML file (UTF-8 text)");
            }
        }
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(bytes);
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(bytes.length);
        java.nio.charset.CoderResult result = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT).decode(in, out, true);
        if (result.isError()) {
            int at = in.position();
            long line = 1 + new String(bytes, 0, at, StandardCharsets.UTF_8).chars().filter(c -> c == '\n').count();
            throw new MigratorException(ErrorCode.PLAN_INVALID, "plan file " + file + " is not UTF-8 text: byte 0x"
                    + String.format("%02X", bytes[at] & 0xff) + " at offset " + at + " (line " + line + ")",
                    "save the plan as UTF-8 (e.g. iconv -f latin1 -t utf-8)");
        }
        out.flip();
        return out.toString();
    }

    /** Parses plan text; {@code baseDir} anchors relative {@code ${file:...}} references. */
    public Plan parse(String fileName, String text, Path baseDir) {
        List<PlanProblem> problems = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String indent = lines[i].substring(0, lines[i].length() - lines[i].stripLeading().length());
            int tab = indent.indexOf('\t');
            if (tab >= 0) { // YAML indents with spaces; the parser's own message points elsewhere and never says "tab"
                problems.add(new PlanProblem(fileName, new Mark(i + 1, tab + 1), "a tab in the indentation of line " + (i + 1),
                        "indent with spaces only (YAML does not allow tabs there)"));
            }
        }
        if (!problems.isEmpty()) {
            throw new InvalidPlanException(fileName, problems);
        }
        YamlNode root = new YamlTreeReader(fileName, problems).read(text);
        Plan plan = null;
        if (root != null) {
            plan = new PlanBinder(fileName, new SecretResolver(environment, baseDir), problems).bind(root);
        }
        if (!problems.isEmpty() || plan == null) {
            if (problems.isEmpty()) {
                problems.add(new PlanProblem(fileName, Mark.UNKNOWN, "the plan could not be read", "start from an example in plans/"));
            }
            problems.sort(Comparator.comparingInt(PlanProblem::line).thenComparingInt(PlanProblem::column));
            throw new InvalidPlanException(fileName, problems);
        }
        return plan;
    }
}
