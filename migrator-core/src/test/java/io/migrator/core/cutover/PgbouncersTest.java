package io.migrator.core.cutover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The parts of the pgbouncer switch that need no server: its [databases] entry rewritten, and the console's SCRAM login. */
class PgbouncersTest {
    private static final String INI = """
            ;; the application's pgbouncer
            [databases]
            * = host=10.0.0.5 port=5432
            shop = host=10.0.0.5 port=5432 dbname=shop pool_size=40 application_name='shop app'
            other = host=10.0.0.9
            [pgbouncer]
            listen_port = 6432
            ; shop = host=ignored
            """;

    @Test
    void anEntryIsRepointedKeepingItsOtherSettingsAndTheRestOfTheFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("pgbouncer.ini");
        Files.writeString(file, INI);
        assertThat(Pgbouncers.rewriteIni(file, "shop", "10.0.1.7", 5433, "shop_new")).contains("shop 10.0.0.5:5432 -> 10.0.1.7:5433");
        assertThat(Files.readString(file)).isEqualTo(INI.replace("shop = host=10.0.0.5 port=5432 dbname=shop pool_size=40",
                "shop = host=10.0.1.7 port=5433 dbname=shop_new pool_size=40"));
        assertThat(Pgbouncers.rewriteIni(file, "shop", "10.0.1.7", 5433, "shop_new")).contains("already points shop at 10.0.1.7:5433");
    }

    @Test
    void aDatabaseOnlyTheWildcardServedGetsItsOwnEntry(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("pgbouncer.ini");
        Files.writeString(file, INI);
        assertThat(Pgbouncers.rewriteIni(file, "orders", "10.0.1.7", 5433, "orders")).contains("added (a wildcard served it)");
        assertThat(Files.readString(file)).isEqualTo(INI.replace("[databases]\n", "[databases]\norders = host=10.0.1.7 port=5433 dbname=orders\n"));
        Path none = dir.resolve("none.ini");
        Files.writeString(none, "[pgbouncer]\nlisten_port = 6432\n");
        assertThatThrownBy(() -> Pgbouncers.rewriteIni(none, "orders", "10.0.1.7", 5433, "orders"))
                .isInstanceOfSatisfying(MigratorException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CUTOVER_FAILED))
                .hasMessageContaining("has no [databases] section");
    }

    /** RFC 7677's example exchange: the proof the client sends and the server signature it accepts are the RFC's. */
    @Test
    void scramSha256MatchesTheRfcExample() {
        PgbouncerConsole.Scram scram = new PgbouncerConsole.Scram("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        assertThat(scram.clientFirst()).isEqualTo("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        assertThat(scram.clientFinal("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
                .isEqualTo("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        scram.verifyServer("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assertThatThrownBy(() -> scram.verifyServer("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
                .isInstanceOfSatisfying(MigratorException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CUTOVER_PRECONDITION));
    }
}
