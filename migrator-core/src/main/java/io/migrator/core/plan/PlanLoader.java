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
    public Plan load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
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

    /** Parses plan text; {@code baseDir} anchors relative {@code ${file:...}} references. */
    public Plan parse(String fileName, String text, Path baseDir) {
        List<PlanProblem> problems = new ArrayList<>();
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
