package io.migrator.core.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.migrator.core.observe.MigrationMetrics;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Plan;
import io.migrator.core.plan.Secret;
import io.migrator.core.plan.TableFilter;
import io.migrator.core.run.Migration;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** docs/metrics.md lists what the worker exports, and the Grafana dashboard asks only for documented metrics. */
class MetricsDocsTest {
    private static final Path DOCS = Path.of("..", "docs");
    private static final Pattern NAME = Pattern.compile("\\b((?:migrator|jvm|process|system)_[a-z_]+)\\b");
    /** Meters that appear once what they count exists (a table, a retry kind, an error code). */
    private static final Set<String> DISCOVERED = Set.of("migrator_snapshot_rows_copied_total", "migrator_snapshot_rows_estimated",
            "migrator_retries_total", "migrator_errors_total", "migrator_cutover_step_seconds");

    private static Set<String> documented() throws Exception {
        Set<String> names = new TreeSet<>();
        for (String line : Files.readAllLines(DOCS.resolve("metrics.md"))) {
            if (line.startsWith("| `migrator_")) {
                names.add(line.substring(3, line.indexOf('`', 3)));
            }
        }
        return names;
    }

    @Test
    void everyDocumentedMigrationMetricIsExported() throws Exception {
        Endpoint e = new Endpoint(Engine.MARIADB, "127.0.0.1", 1, "u", Secret.of("p"), "shop", List.of(), false);
        Plan plan = new Plan("plan.yaml", "orders", e, e, TableFilter.ALL, new Plan.Snapshot(1, 1000), new Plan.Cutover(Duration.ofSeconds(30)),
                new Plan.Control("127.0.0.1", 0));
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        MigrationMetrics.bind(registry, new Migration(plan, null, null));
        String scrape = registry.scrape();
        Set<String> exported = new TreeSet<>();
        Matcher m = Pattern.compile("(?m)^(migrator_[a-z_]+)\\{").matcher(scrape);
        while (m.find()) {
            exported.add(m.group(1));
        }
        Set<String> expected = new TreeSet<>(documented());
        expected.removeAll(DISCOVERED);
        assertThat(expected).hasSizeGreaterThan(10);
        assertThat(exported).as("exported without a table, retry or error").isEqualTo(expected);
    }

    @Test
    void theGrafanaDashboardAsksOnlyForExportedMetrics() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(DOCS.resolve("grafana-dashboard.json").toFile());
        assertThat(dashboard.get("panels").size()).isGreaterThan(8);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        String jvm = registry.scrape();
        Set<String> documented = documented();
        List<String> exprs = dashboard.findValuesAsText("expr");
        assertThat(exprs).isNotEmpty();
        for (String expr : exprs) {
            assertThat(expr).as("every query is per migration").contains("migration=\"$migration\"");
            Matcher m = NAME.matcher(expr);
            while (m.find()) {
                String name = m.group(1);
                if (name.startsWith("migrator_")) {
                    assertThat(documented).as(expr).contains(name);
                } else {
                    assertThat(jvm).as(expr).containsPattern("(?m)^" + name + "[{ ]");
                }
            }
        }
    }
}
