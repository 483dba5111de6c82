package io.migrator.core.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.error.MigratorException;
import io.migrator.core.validate.ValidationService;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Whether a stored migration finished its copy is read from its phase fields, never from the text of its detail. */
class MigrationStateTest {
    private static MigrationState state(Phase phase, Phase failedIn, String detail) {
        return new MigrationState("m", phase, null, Instant.now(), detail, failedIn);
    }

    @Test
    void aFailedMigrationCountsAsCopiedByThePhaseItFailedInNotByItsMessage() {
        assertThat(state(Phase.FAILED, Phase.STREAMING, "anything").copied()).isTrue();
        assertThat(state(Phase.FAILED, Phase.CATCH_UP, null).copied()).isTrue();
        assertThat(state(Phase.FAILED, Phase.SNAPSHOT, "failed in STREAMING: a message that lies").copied()).isFalse();
        assertThat(state(Phase.FAILED, null, "failed in STREAMING: nothing journaled").copied()).isFalse();
        assertThat(state(Phase.STREAMING, null, null).copied()).isTrue();
        assertThat(state(Phase.SNAPSHOT, null, null).copied()).isFalse();
    }

    @Test
    void validationWithoutAWorkerFollowsTheSameFields() {
        ValidationService.requireCopied(state(Phase.FAILED, Phase.STREAMING, null));
        assertThatThrownBy(() -> ValidationService.requireCopied(state(Phase.FAILED, Phase.SNAPSHOT, null)))
                .isInstanceOf(MigratorException.class).hasMessageContaining("the copy is not finished");
        assertThatThrownBy(() -> ValidationService.requireCopied(state(Phase.CUT_OVER, null, null)))
                .isInstanceOf(MigratorException.class).hasMessageContaining("takes its own writes");
    }
}
