package io.migrator.core.docs;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.error.ErrorCodeReference;
import io.migrator.core.plan.PlanSettings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * docs/error-codes.md and the settings table of docs/plan.md are generated from the code. When they
 * drift, this fails; {@code mvn -pl migrator-core test -Dmigrator.writeDocs=true} rewrites them.
 */
class GeneratedDocsTest {
    private static final Path DOCS = Path.of("..", "docs");
    private static final boolean WRITE = Boolean.getBoolean("migrator.writeDocs");
    private static final String BEGIN = "<!-- BEGIN GENERATED: PlanSettings.referenceTable() -->\n";
    private static final String END = "<!-- END GENERATED -->";

    @Test
    void errorCodesDocumentMatchesTheEnum() throws IOException {
        Path file = DOCS.resolve("error-codes.md");
        String expected = ErrorCodeReference.markdown();
        if (WRITE) {
            Files.writeString(file, expected, StandardCharsets.UTF_8);
        }
        assertThat(Files.readString(file, StandardCharsets.UTF_8))
                .as("docs/error-codes.md is stale: run mvn -pl migrator-core test -Dmigrator.writeDocs=true").isEqualTo(expected);
    }

    @Test
    void planDocumentHoldsTheSettingsTable() throws IOException {
        Path file = DOCS.resolve("plan.md");
        String text = Files.readString(file, StandardCharsets.UTF_8);
        int begin = text.indexOf(BEGIN);
        int end = text.indexOf(END);
        assertThat(begin).as("docs/plan.md has the generated-table markers").isNotNegative();
        assertThat(end).isGreaterThan(begin);
        String current = text.substring(begin + BEGIN.length(), end);
        String expected = PlanSettings.referenceTable();
        if (WRITE && !current.equals(expected)) {
            Files.writeString(file, text.substring(0, begin + BEGIN.length()) + expected + text.substring(end), StandardCharsets.UTF_8);
            current = expected;
        }
        assertThat(current).as("docs/plan.md settings table is stale: run mvn -pl migrator-core test -Dmigrator.writeDocs=true")
                .isEqualTo(expected);
    }
}
