package io.migrator.connectors.postgres;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The messages of one transaction still in progress that the walsender streams ahead of its commit (pgoutput protocol 2),
 * kept in a file until its Stream Commit applies them or its Stream Abort drops them: the server streams only
 * transactions past its logical_decoding_work_mem, so they go to disk, never to the heap. A subtransaction rolled back
 * drops everything from its first message on (what came after it is its own or its children's, as PostgreSQL's own
 * apply worker reads it). Each record: the message's LSN, its length, its bytes as the walsender sent them.
 */
final class PgOutputSpool implements AutoCloseable {
    private final Path file;
    private final FileOutputStream raw;
    private final DataOutputStream out;
    /** Where each subtransaction's first message begins in the file. */
    private final Map<Long, Long> firstAt = new HashMap<>();
    private long size;
    private long messages;

    PgOutputSpool(Path directory, long xid) {
        try {
            this.file = Files.createTempFile(directory, "xid-" + xid + "-", ".spool");
            this.raw = new FileOutputStream(file.toFile());
        } catch (IOException e) {
            throw full(directory, e);
        }
        this.out = new DataOutputStream(new BufferedOutputStream(raw, 1 << 16));
    }

    /** A directory of its own for one stream's spools, under java.io.tmpdir. */
    static Path directory(String slot) {
        Path base = Path.of(System.getProperty("java.io.tmpdir"));
        try {
            return Files.createTempDirectory(base, "migrator-" + slot + "-");
        } catch (IOException e) {
            throw full(base, e);
        }
    }

    /** Deletes a stream's spool directory and what is left in it. */
    static void deleteDirectory(Path directory) {
        if (directory == null) {
            return;
        }
        try (var files = Files.list(directory)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(directory);
        } catch (IOException e) {
            // best effort: a temporary directory
        }
    }

    void add(long subxid, long lsn, ByteBuffer message) {
        firstAt.putIfAbsent(subxid, size);
        int length = message.remaining();
        try {
            out.writeLong(lsn);
            out.writeInt(length);
            if (message.hasArray()) {
                out.write(message.array(), message.arrayOffset() + message.position(), length);
            } else {
                byte[] copy = new byte[length];
                message.duplicate().get(copy);
                out.write(copy);
            }
        } catch (IOException e) {
            throw full(file.getParent(), e);
        }
        size += 12 + length;
        messages++;
    }

    /** A subtransaction rolled back: its messages, and all that came after its first, are dropped. */
    void abort(long subxid) {
        Long at = firstAt.get(subxid);
        if (at == null) {
            return; // it sent nothing
        }
        try {
            out.flush();
            raw.getChannel().truncate(at); // the write position moves back with it
        } catch (IOException e) {
            throw full(file.getParent(), e);
        }
        size = at;
        firstAt.values().removeIf(offset -> offset >= at);
    }

    long messages() {
        return messages;
    }

    long bytes() {
        return size;
    }

    /** Reads the messages back in order, once, after the transaction committed. */
    Reader reader() {
        try {
            out.flush();
            return new Reader(new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16)), size);
        } catch (IOException e) {
            throw new UncheckedIOException("reading back " + file, e);
        }
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            // deleted next
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // a temporary file; its directory goes when the stream closes
        }
    }

    /** The spooled messages, one at a time. */
    static final class Reader implements AutoCloseable {
        private final DataInputStream in;
        private long left;
        private long lsn;
        private byte[] buffer = new byte[256];
        private ByteBuffer message;

        Reader(DataInputStream in, long size) {
            this.in = in;
            this.left = size;
        }

        boolean next() {
            if (left <= 0) {
                return false;
            }
            try {
                lsn = in.readLong();
                int length = in.readInt();
                if (buffer.length < length) {
                    buffer = new byte[Math.max(length, buffer.length * 2)];
                }
                in.readFully(buffer, 0, length);
                message = ByteBuffer.wrap(buffer, 0, length);
                left -= 12 + length;
                return true;
            } catch (EOFException e) {
                throw new IllegalStateException("a spooled transaction ended early", e);
            } catch (IOException e) {
                throw new UncheckedIOException("reading back a spooled transaction", e);
            }
        }

        long lsn() {
            return lsn;
        }

        /** The current message; valid until the next call of {@link #next}. */
        ByteBuffer message() {
            return message;
        }

        @Override
        public void close() {
            try {
                in.close();
            } catch (IOException e) {
                // read to its end already
            }
        }
    }

    private static MigratorException full(Path where, IOException e) {
        return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "cannot keep a large source transaction that PostgreSQL streams before its "
                + "commit in " + where + ": " + e.getMessage(), "free space there, or give the worker a directory with room for the "
                + "largest transaction (MIGRATOR_JAVA_OPTS=-Djava.io.tmpdir=DIR); `migrator run` again resumes from the checkpoint", e);
    }
}
