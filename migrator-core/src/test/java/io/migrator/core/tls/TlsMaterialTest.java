package io.migrator.core.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Secret;
import io.migrator.core.plan.Tls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading PEM keys as OpenSSL writes them, and the words a TLS failure is reported in. */
class TlsMaterialTest {
    @TempDir
    Path dir;

    private static String pem(String label, byte[] der) {
        return "-----BEGIN " + label + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der) + "\n-----END " + label + "-----\n";
    }

    @Test
    void readsPkcs8AndTraditionalRsaKeysAndRefusesEncryptedOnesWithTheCommandToConvert() throws Exception {
        PrivateKey key = KeyPairGenerator.getInstance("RSA").generateKeyPair().getPrivate();
        byte[] pkcs8 = key.getEncoded();
        // an RSA PKCS#8 structure: SEQUENCE(len 2) { INTEGER 0, AlgorithmIdentifier (15 bytes), OCTET STRING(len 2) { PKCS#1 } }
        byte[] pkcs1 = java.util.Arrays.copyOfRange(pkcs8, 26, pkcs8.length);
        assertThat(TlsMaterial.pkcs1ToPkcs8(pkcs1)).isEqualTo(pkcs8);

        Path p8 = dir.resolve("p8.key");
        Files.writeString(p8, pem("PRIVATE KEY", pkcs8));
        assertThat(TlsMaterial.privateKey(p8.toString()).getEncoded()).isEqualTo(pkcs8);
        Path p1 = dir.resolve("p1.key");
        Files.writeString(p1, pem("RSA PRIVATE KEY", pkcs1));
        assertThat(TlsMaterial.privateKey(p1.toString()).getEncoded()).isEqualTo(pkcs8);

        Path encrypted = dir.resolve("enc.key");
        Files.writeString(encrypted, pem("ENCRYPTED PRIVATE KEY", pkcs8));
        assertThatThrownBy(() -> TlsMaterial.privateKey(encrypted.toString())).isInstanceOfSatisfying(MigratorException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.PLAN_INVALID);
            assertThat(e.getMessage()).contains("encrypted with a passphrase");
            assertThat(e.remedy()).contains("openssl pkcs8 -topk8 -nocrypt");
        });
        Path notPem = dir.resolve("ca.pem");
        Files.writeString(notPem, "hello");
        assertThatThrownBy(() -> TlsMaterial.certificates(notPem.toString(), "tls.ca")).isInstanceOfSatisfying(MigratorException.class,
                e -> assertThat(e.remedy()).contains("BEGIN CERTIFICATE"));
    }

    @Test
    void namesTheCertificateProblemAndThePlanKeyToChange() {
        Endpoint e = new Endpoint(Engine.REDIS, "cache.example.com", 6380, "", Secret.NONE, "", List.of(0), false, null,
                new Tls(Tls.Mode.VERIFY_FULL, "/etc/ca.pem", null, null, false));
        var untrusted = new javax.net.ssl.SSLHandshakeException("PKIX path building failed");
        untrusted.initCause(new java.security.cert.CertPathBuilderException("unable to find valid certification path to requested target"));
        assertThat(TlsErrors.explain(new RuntimeException("wrapped", untrusted), "target", e)).hasValueSatisfying(x -> {
            assertThat(x.code()).isEqualTo(ErrorCode.CANNOT_CONNECT);
            assertThat(x.getMessage()).contains("the target redis at cache.example.com:6380").contains("target.tls.ca (/etc/ca.pem)");
            assertThat(x.remedy()).contains("set target.tls.ca");
        });
        var wrongHost = new javax.net.ssl.SSLHandshakeException("No subject alternative DNS name matching cache.example.com found.");
        assertThat(TlsErrors.explain(wrongHost, "target", e)).hasValueSatisfying(x -> assertThat(x.remedy()).contains("verify-ca"));
        assertThat(TlsErrors.explain(new javax.net.ssl.SSLException("Unsupported or unrecognized SSL message"), "target", e))
                .hasValueSatisfying(x -> assertThat(x.remedy()).contains("tls-port"));
        assertThat(TlsErrors.explain(new java.net.ConnectException("Connection refused"), "target", e)).isEmpty();
        assertThat(TlsErrors.isTlsRefusal(wrongHost)).isTrue();
        assertThat(TlsErrors.isTlsRefusal(new javax.net.ssl.SSLException("Connection reset"))).isFalse();
    }
}
