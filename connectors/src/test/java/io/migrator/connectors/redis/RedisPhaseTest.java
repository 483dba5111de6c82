package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.plan.Plan;
import io.migrator.core.plan.PlanLoader;
import io.migrator.core.state.Phase;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Redis worker moves through the same checked state machine as the SQL engines' workers: a move the machine does not
 * allow fails loudly and moves nothing, and a cutover's move is refused before anything is journaled. No server is needed:
 * the refusals come before any write (the plan points at a port nothing listens on).
 */
class RedisPhaseTest {
    private static Plan plan() {
        String yaml = """
                name: phases
                source: {engine: redis, host: 127.0.0.1, port: 1}
                target: {engine: redis, host: 127.0.0.1, port: 2}
                """;
        return new PlanLoader(Map.of()).parse("phases.yaml", yaml, Path.of("."));
    }

    @Test
    void aMoveTheStateMachineDoesNotAllowFailsAndMovesNothing() {
        RedisMigration worker = new RedisMigration(plan());
        assertThat(worker.phase()).isEqualTo(Phase.PREFLIGHT);
        assertThatThrownBy(() -> worker.move(Phase.STREAMING, "skipping the full sync")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("phase PREFLIGHT cannot move to STREAMING");
        assertThat(worker.phase()).isEqualTo(Phase.PREFLIGHT);
        assertThat(worker.status().phases()).as("nothing journaled in status").isEmpty();

        worker.move(Phase.SNAPSHOT, "full sync from the source"); // Redis has no schema phase: allowed
        assertThat(worker.phase()).isEqualTo(Phase.SNAPSHOT);
        assertThatThrownBy(() -> worker.move(Phase.STREAMING, "caught up")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("phase SNAPSHOT cannot move to STREAMING");
        worker.move(Phase.CATCH_UP, "keys restored");
        worker.move(Phase.STREAMING, "caught up");
        worker.move(Phase.SNAPSHOT, "full resync: the source's backlog no longer holds the position");
        assertThat(worker.phase()).isEqualTo(Phase.SNAPSHOT);
        assertThat(worker.status().phases()).extracting(e -> e.phase())
                .containsExactly(Phase.SNAPSHOT, Phase.CATCH_UP, Phase.STREAMING, Phase.SNAPSHOT);
    }

    @Test
    void aCutoverOrRollbackMoveOutOfTurnIsRefusedBeforeItIsJournaled() {
        RedisMigration worker = new RedisMigration(plan());
        // the journal would need the target (nothing listens there): the refusal comes first, so it is the state machine's
        assertThatThrownBy(() -> worker.cutoverMove(Phase.CUT_OVER, "switched")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("phase PREFLIGHT cannot move to CUT_OVER");
        assertThatThrownBy(() -> worker.moveTo(Phase.ROLLED_BACK)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("phase PREFLIGHT cannot move to ROLLED_BACK");
        assertThat(worker.phase()).isEqualTo(Phase.PREFLIGHT);
    }

    @Test
    void theTableAllowsWhatAFullResyncNeedsAndNothingOutOfACompletedMigration() {
        assertThat(Phase.CATCH_UP.canMoveTo(Phase.SNAPSHOT)).isTrue();
        assertThat(Phase.STREAMING.canMoveTo(Phase.SNAPSHOT)).isTrue();
        assertThat(Phase.CUTTING_OVER.canMoveTo(Phase.SNAPSHOT)).as("never a full resync inside a cutover").isFalse();
        assertThat(Phase.CUT_OVER.canMoveTo(Phase.CATCH_UP)).as("a rollback goes through ROLLED_BACK").isFalse();
        for (Phase p : Phase.values()) {
            assertThat(Phase.COMPLETED.canMoveTo(p)).isFalse();
        }
        Phase.STREAMING.requireMoveTo(Phase.STREAMING); // staying is not a move
        assertThatThrownBy(() -> Phase.SNAPSHOT.requireMoveTo(Phase.CUT_OVER)).isInstanceOf(IllegalStateException.class);
    }
}
