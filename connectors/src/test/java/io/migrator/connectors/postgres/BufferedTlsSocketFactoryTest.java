package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The socket beneath a replication connection's TLS: small pieces the peer wrote one by one come out of one read from the
 * kernel, a read timeout leaves the stream as it was, and the timeout reaches the socket only when a read waits on it.
 */
class BufferedTlsSocketFactoryTest {
    /** A connected socket that counts the reads that went to the kernel. */
    private static final class CountingSocket extends Socket {
        final AtomicInteger reads = new AtomicInteger();

        CountingSocket(InetAddress host, int port) throws IOException {
            super(host, port);
        }

        @Override
        public InputStream getInputStream() throws IOException {
            return new FilterInputStream(super.getInputStream()) {
                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    reads.incrementAndGet();
                    return super.read(b, off, len);
                }
            };
        }
    }

    @Test
    void piecesWrittenOneByOneAreReadFromTheKernelTogether() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             CountingSocket raw = new CountingSocket(InetAddress.getLoopbackAddress(), server.getLocalPort());
             Socket peer = server.accept()) {
            OutputStream out = peer.getOutputStream();
            for (int i = 0; i < 1000; i++) {
                out.write(new byte[] {23, 3, 3, 0, (byte) i}); // 1,000 writes of a record header's size
                out.flush();
            }
            Thread.sleep(200); // all of it in the kernel's buffer
            var buffered = new BufferedTlsSocketFactory.BufferedSocket(raw);
            InputStream in = buffered.getInputStream();
            byte[] piece = new byte[5];
            for (int i = 0; i < 1000; i++) {
                int n = 0;
                while (n < 5) {
                    n += in.read(piece, n, 5 - n);
                }
                assertThat(piece[4]).isEqualTo((byte) i);
            }
            assertThat(raw.reads.get()).as("reads that went to the kernel for 5,000 bytes").isLessThanOrEqualTo(3);
        }
    }

    @Test
    void aTimeoutReachesTheSocketOnlyWhenAReadWaitsAndLeavesTheStreamIntact() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             CountingSocket raw = new CountingSocket(InetAddress.getLoopbackAddress(), server.getLocalPort());
             Socket peer = server.accept()) {
            var buffered = new BufferedTlsSocketFactory.BufferedSocket(raw);
            peer.getOutputStream().write(new byte[] {1, 2});
            peer.getOutputStream().flush();
            Thread.sleep(100);
            InputStream in = buffered.getInputStream();
            assertThat(in.read()).isEqualTo(1); // fills the buffer with both bytes
            buffered.setSoTimeout(1); // pgjdbc's poll: 1 ms, then back, while its own buffer is empty
            assertThat(buffered.getSoTimeout()).isEqualTo(1);
            assertThat(in.read()).as("served from the buffer").isEqualTo(2);
            assertThat(raw.getSoTimeout()).as("no read waited: the socket's timeout is untouched").isZero();

            buffered.setSoTimeout(50);
            assertThatThrownBy(in::read).isInstanceOf(SocketTimeoutException.class);
            assertThat(raw.getSoTimeout()).isEqualTo(50);
            peer.getOutputStream().write(new byte[] {3, 4});
            peer.getOutputStream().flush();
            byte[] two = new byte[2];
            int n = in.read(two, 0, 2);
            n += n < 2 ? in.read(two, n, 2 - n) : 0;
            assertThat(two).as("after a timeout the next bytes come in order").containsExactly(3, 4);
            assertThat(buffered.getInetAddress()).isEqualTo(raw.getInetAddress());
            assertThat(buffered.getChannel()).as("no way around the buffer").isNull();
        }
    }

    @Test
    void replicationConnectionsReadTheirTlsThroughTheBufferKeepingThePlansFactory() {
        var plan = new io.migrator.core.plan.PlanLoader(java.util.Map.of()).parse("p.yaml", """
                name: buffered
                source: {engine: postgresql, host: db.example, port: 5432, user: m, password: x, database: d, tls: {mode: verify-full}}
                target: {engine: postgresql, host: db2.example, port: 5432, user: m, password: x, database: d, tls: disable}
                """, java.nio.file.Path.of("."));
        Properties verified = PostgresCopy.replicationProperties(plan.source(), "test");
        assertThat(verified.getProperty("sslfactory")).isEqualTo(BufferedTlsSocketFactory.class.getName());
        assertThat(verified.getProperty(BufferedTlsSocketFactory.INNER)).as("the JVM's authorities, as the plan's TLS asks")
                .isEqualTo("org.postgresql.ssl.DefaultJavaSSLFactory");
        assertThat(verified.getProperty("sslmode")).isEqualTo("verify-full");
        assertThat(PostgresCopy.replicationProperties(plan.target(), "test").getProperty("sslfactory")).isNull();
    }

    @Test
    void theFactoryNamedBeforeDoesTheTlsAndPlainTextIsLeftAlone() throws Exception {
        Properties props = new Properties();
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslfactory", "org.postgresql.ssl.DefaultJavaSSLFactory");
        BufferedTlsSocketFactory.install(props);
        assertThat(props.getProperty("sslfactory")).isEqualTo(BufferedTlsSocketFactory.class.getName());
        assertThat(props.getProperty(BufferedTlsSocketFactory.INNER)).isEqualTo("org.postgresql.ssl.DefaultJavaSSLFactory");
        assertThat(new BufferedTlsSocketFactory(props).getSupportedCipherSuites()).isNotEmpty();

        Properties plain = new Properties();
        plain.setProperty("sslmode", "disable");
        BufferedTlsSocketFactory.install(plain);
        assertThat(plain.getProperty("sslfactory")).isNull();
    }
}
