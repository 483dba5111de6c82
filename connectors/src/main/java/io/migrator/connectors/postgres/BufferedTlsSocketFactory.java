package io.migrator.connectors.postgres;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketOption;
import java.nio.channels.SocketChannel;
import java.util.Properties;
import java.util.Set;
import javax.net.ssl.SSLSocketFactory;
import org.postgresql.core.SocketFactoryFactory;
import org.postgresql.util.PSQLException;

/**
 * pgjdbc's TLS socket factory for replication connections, with the encrypted bytes read from the kernel in large pieces.
 *
 * <p>The walsender flushes after every pgoutput message, so under TLS each message is a record of its own, and the JDK's TLS
 * socket reads the connection beneath it unbuffered: one read for a record's 5-byte header and another for its body, two
 * system calls per message (six million for a backlog of a million single-row transactions). pgjdbc's non-blocking read
 * also sets the socket's timeout to 1 ms and back whenever its own buffer is empty, which under TLS is once per message.
 * This factory puts a socket between the two whose input is buffered (whatever the kernel holds, up to 64 kB, in one call)
 * and which applies the timeout last set only when a read really goes to the kernel. Records, decryption and
 * verification stay the JDK's; the TLS itself is done by the factory pgjdbc would have used otherwise (the plan's CA and
 * client certificate, or the JVM's authorities), whose class name the connection's properties carry in {@link #INNER}.
 * {@code -Dmigrator.pgoutput.tlsBuffer=off} leaves it out.
 */
public final class BufferedTlsSocketFactory extends SSLSocketFactory {
    /** The connection property naming the factory that does the TLS (absent: pgjdbc's own default). */
    static final String INNER = "migratorTlsFactory";
    private static final int BUFFER = 65536;

    private final SSLSocketFactory tls;

    /** Made by pgjdbc with the connection's properties ({@code sslfactory}). */
    public BufferedTlsSocketFactory(Properties info) throws PSQLException {
        Properties props = new Properties();
        for (String name : info.stringPropertyNames()) {
            props.setProperty(name, info.getProperty(name));
        }
        String inner = props.getProperty(INNER);
        props.remove(INNER);
        if (inner == null) {
            props.remove("sslfactory");
        } else {
            props.setProperty("sslfactory", inner);
        }
        this.tls = SocketFactoryFactory.getSslSocketFactory(props);
    }

    /** Connection properties whose TLS goes through this factory, wrapping the one they named (replication connections). */
    static void install(Properties props) {
        if ("off".equals(System.getProperty("migrator.pgoutput.tlsBuffer")) || "disable".equals(props.getProperty("sslmode"))) {
            return;
        }
        String inner = props.getProperty("sslfactory");
        if (inner != null) {
            props.setProperty(INNER, inner);
        }
        props.setProperty("sslfactory", BufferedTlsSocketFactory.class.getName());
    }

    @Override
    public Socket createSocket(Socket s, String host, int port, boolean autoClose) throws IOException {
        return tls.createSocket(new BufferedSocket(s), host, port, autoClose);
    }

    @Override
    public String[] getDefaultCipherSuites() {
        return tls.getDefaultCipherSuites();
    }

    @Override
    public String[] getSupportedCipherSuites() {
        return tls.getSupportedCipherSuites();
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
        return tls.createSocket(host, port);
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
        return tls.createSocket(host, port, localHost, localPort);
    }

    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
        return tls.createSocket(host, port);
    }

    @Override
    public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort) throws IOException {
        return tls.createSocket(address, port, localAddress, localPort);
    }

    /**
     * A connected socket seen through a read buffer: everything else goes to the socket itself. Its timeout is kept here and
     * given to the socket before a read that has to wait for the kernel.
     */
    static final class BufferedSocket extends Socket {
        private final Socket socket;
        private final InputStream in;
        private volatile int timeout;
        private int applied;

        BufferedSocket(Socket socket) throws IOException {
            this.socket = socket;
            this.timeout = socket.getSoTimeout();
            this.applied = timeout;
            InputStream raw = socket.getInputStream();
            this.in = new InputStream() {
                private final byte[] buffer = new byte[BUFFER];
                private int pos;
                private int end;

                @Override
                public int read() throws IOException {
                    if (pos == end && !fill()) {
                        return -1;
                    }
                    return buffer[pos++] & 0xFF;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (len == 0) {
                        return 0;
                    }
                    if (pos == end) {
                        if (len >= BUFFER) {
                            applyTimeout();
                            return raw.read(b, off, len); // a large read gains nothing from the copy
                        }
                        if (!fill()) {
                            return -1;
                        }
                    }
                    int n = Math.min(len, end - pos);
                    System.arraycopy(buffer, pos, b, off, n);
                    pos += n;
                    return n;
                }

                @Override
                public int available() throws IOException {
                    return end - pos > 0 ? end - pos : raw.available();
                }

                private boolean fill() throws IOException {
                    applyTimeout();
                    int n = raw.read(buffer, 0, BUFFER); // a timeout throws here, before anything changed
                    if (n <= 0) {
                        return false;
                    }
                    pos = 0;
                    end = n;
                    return true;
                }

                @Override
                public void close() throws IOException {
                    raw.close();
                }
            };
        }

        private synchronized void applyTimeout() throws SocketException {
            int wanted = timeout;
            if (wanted != applied) {
                socket.setSoTimeout(wanted);
                applied = wanted;
            }
        }

        @Override
        public InputStream getInputStream() {
            return in;
        }

        @Override
        public OutputStream getOutputStream() throws IOException {
            return socket.getOutputStream();
        }

        @Override
        public void setSoTimeout(int timeout) throws SocketException {
            if (timeout < 0) {
                throw new IllegalArgumentException("timeout < 0");
            }
            this.timeout = timeout;
        }

        @Override
        public int getSoTimeout() {
            return timeout;
        }

        @Override
        public void connect(SocketAddress endpoint) throws IOException {
            socket.connect(endpoint);
        }

        @Override
        public void connect(SocketAddress endpoint, int timeout) throws IOException {
            socket.connect(endpoint, timeout);
        }

        @Override
        public void bind(SocketAddress bindpoint) throws IOException {
            socket.bind(bindpoint);
        }

        @Override
        public InetAddress getInetAddress() {
            return socket.getInetAddress();
        }

        @Override
        public InetAddress getLocalAddress() {
            return socket.getLocalAddress();
        }

        @Override
        public int getPort() {
            return socket.getPort();
        }

        @Override
        public int getLocalPort() {
            return socket.getLocalPort();
        }

        @Override
        public SocketAddress getRemoteSocketAddress() {
            return socket.getRemoteSocketAddress();
        }

        @Override
        public SocketAddress getLocalSocketAddress() {
            return socket.getLocalSocketAddress();
        }

        @Override
        public SocketChannel getChannel() {
            return null; // reads must go through the buffer
        }

        @Override
        public void setTcpNoDelay(boolean on) throws SocketException {
            socket.setTcpNoDelay(on);
        }

        @Override
        public boolean getTcpNoDelay() throws SocketException {
            return socket.getTcpNoDelay();
        }

        @Override
        public void setSoLinger(boolean on, int linger) throws SocketException {
            socket.setSoLinger(on, linger);
        }

        @Override
        public int getSoLinger() throws SocketException {
            return socket.getSoLinger();
        }

        @Override
        public void sendUrgentData(int data) throws IOException {
            socket.sendUrgentData(data);
        }

        @Override
        public void setOOBInline(boolean on) throws SocketException {
            socket.setOOBInline(on);
        }

        @Override
        public boolean getOOBInline() throws SocketException {
            return socket.getOOBInline();
        }

        @Override
        public void setSendBufferSize(int size) throws SocketException {
            socket.setSendBufferSize(size);
        }

        @Override
        public int getSendBufferSize() throws SocketException {
            return socket.getSendBufferSize();
        }

        @Override
        public void setReceiveBufferSize(int size) throws SocketException {
            socket.setReceiveBufferSize(size);
        }

        @Override
        public int getReceiveBufferSize() throws SocketException {
            return socket.getReceiveBufferSize();
        }

        @Override
        public void setKeepAlive(boolean on) throws SocketException {
            socket.setKeepAlive(on);
        }

        @Override
        public boolean getKeepAlive() throws SocketException {
            return socket.getKeepAlive();
        }

        @Override
        public void setTrafficClass(int tc) throws SocketException {
            socket.setTrafficClass(tc);
        }

        @Override
        public int getTrafficClass() throws SocketException {
            return socket.getTrafficClass();
        }

        @Override
        public void setReuseAddress(boolean on) throws SocketException {
            socket.setReuseAddress(on);
        }

        @Override
        public boolean getReuseAddress() throws SocketException {
            return socket.getReuseAddress();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }

        @Override
        public void shutdownInput() throws IOException {
            socket.shutdownInput();
        }

        @Override
        public void shutdownOutput() throws IOException {
            socket.shutdownOutput();
        }

        @Override
        public String toString() {
            return socket.toString();
        }

        @Override
        public boolean isConnected() {
            return socket.isConnected();
        }

        @Override
        public boolean isBound() {
            return socket.isBound();
        }

        @Override
        public boolean isClosed() {
            return socket.isClosed();
        }

        @Override
        public boolean isInputShutdown() {
            return socket.isInputShutdown();
        }

        @Override
        public boolean isOutputShutdown() {
            return socket.isOutputShutdown();
        }

        @Override
        public void setPerformancePreferences(int connectionTime, int latency, int bandwidth) {
            socket.setPerformancePreferences(connectionTime, latency, bandwidth);
        }

        @Override
        public <T> Socket setOption(SocketOption<T> name, T value) throws IOException {
            socket.setOption(name, value);
            return this;
        }

        @Override
        public <T> T getOption(SocketOption<T> name) throws IOException {
            return socket.getOption(name);
        }

        @Override
        public Set<SocketOption<?>> supportedOptions() {
            return socket.supportedOptions();
        }
    }
}
