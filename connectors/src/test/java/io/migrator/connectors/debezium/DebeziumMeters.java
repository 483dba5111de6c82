package io.migrator.connectors.debezium;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.util.Set;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/** Reads the embedded Debezium engine's own streaming metrics from JMX, where its event meter publishes them. */
public final class DebeziumMeters {
    private DebeziumMeters() {
    }

    /**
     * The streaming event meter of a connector task (simple class name, e.g. {@code MariaDbConnectorTask}) no longer
     * renders events. For the binlog connectors JMX cannot show it: their LastEvent attribute is the binlog client's.
     */
    public static void assertLastEventNotRenderedBy(String task) {
        assertThat(LastEventSummary.changedMeters()).as("event meters changed").contains(task + " streamingMetrics");
    }

    /**
     * Every streaming meter of a connector family (domain {@code debezium.postgres}, {@code debezium.mariadb}, ...) counted
     * events but rendered none for LastEvent: {@link LastEventSummary} took effect with this Debezium version.
     */
    public static void assertLastEventNotRendered(String domain) throws Exception {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        Set<ObjectName> names = server.queryNames(new ObjectName(domain + ":type=connector-metrics,context=streaming,*"), null);
        assertThat(names).as("streaming meters registered by the engine in " + domain).isNotEmpty();
        for (ObjectName name : names) {
            assertThat((Long) server.getAttribute(name, "TotalNumberOfEventsSeen")).as("events counted by " + name).isPositive();
            assertThat(server.getAttribute(name, "LastEvent")).as("LastEvent of " + name).isEqualTo(LastEventSummary.SUMMARY);
        }
    }
}
