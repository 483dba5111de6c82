package io.migrator.core.preflight;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Secret;
import io.migrator.core.plan.Tls;
import io.migrator.core.spi.Assessment;
import io.migrator.core.spi.Role;
import java.util.List;
import org.junit.jupiter.api.Test;

/** `plan check`'s tls line: quiet on the local host, a warning for every weaker mode across the network. */
class TlsAssessmentTest {
    private static Endpoint endpoint(String host, Tls.Mode mode) {
        return new Endpoint(Engine.POSTGRESQL, host, 5432, "u", Secret.NONE, "shop", List.of(), false, null,
                new Tls(mode, null, null, null, false));
    }

    @Test
    void warnsOffTheLocalHostUnlessTheCertificateIsChecked() {
        assertThat(PlanChecker.tls(Role.SOURCE, endpoint("127.0.0.1", Tls.Mode.DISABLE)).severity()).isEqualTo(Assessment.Severity.OK);
        assertThat(PlanChecker.tls(Role.SOURCE, endpoint("::1", Tls.Mode.PREFER)).severity()).isEqualTo(Assessment.Severity.OK);
        assertThat(PlanChecker.tls(Role.SOURCE, endpoint("localhost", Tls.Mode.DISABLE)).severity()).isEqualTo(Assessment.Severity.OK);
        Assessment plain = PlanChecker.tls(Role.TARGET, endpoint("orders.abc.eu-west-1.rds.amazonaws.com", Tls.Mode.DISABLE));
        assertThat(plain.severity()).isEqualTo(Assessment.Severity.WARN);
        assertThat(plain.finding()).contains("target.tls: disable").contains("plain text");
        assertThat(plain.remedy()).contains("verify-full");
        assertThat(PlanChecker.tls(Role.TARGET, endpoint("10.0.0.5", Tls.Mode.PREFER)).severity()).isEqualTo(Assessment.Severity.WARN);
        assertThat(PlanChecker.tls(Role.TARGET, endpoint("127.attacker.example", Tls.Mode.REQUIRE)).finding()).contains("not checked");
        Assessment full = PlanChecker.tls(Role.TARGET, endpoint("db.internal", Tls.Mode.VERIFY_FULL));
        assertThat(full.severity()).isEqualTo(Assessment.Severity.OK);
        assertThat(full.finding()).contains("naming db.internal");
    }
}
