package io.migrator.core.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.state.WorkerRecord;
import org.junit.jupiter.api.Test;

class WorkerRecordTest {
    @Test
    void aWildcardAddressIsReachedOnLoopbackHereAndOnTheWorkersHostElsewhere() {
        String here = WorkerRecord.localHost();
        assertThat(new WorkerRecord("0.0.0.0:9470", here, 1, "t").reachable()).isEqualTo("127.0.0.1:9470");
        assertThat(new WorkerRecord("[::]:9470", "db-ops-7", 1, "t").reachable()).isEqualTo("db-ops-7:9470");
        assertThat(new WorkerRecord("10.1.2.3:9470", "db-ops-7", 1, "t").reachable()).isEqualTo("10.1.2.3:9470");
        assertThat(new WorkerRecord(null, here, 1, "t").reachable()).isNull();
    }

    @Test
    void describesTheWorkerForErrorMessages() {
        assertThat(new WorkerRecord("127.0.0.1:9470", "h", 42, "2026-11-27T04:00:00Z").describe())
                .isEqualTo("pid 42 on host h, serving http://127.0.0.1:9470/ since 2026-11-27T04:00:00Z");
        assertThat(WorkerRecord.self("127.0.0.1:1").pid()).isEqualTo(ProcessHandle.current().pid());
    }
}
