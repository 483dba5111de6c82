package io.migrator.core.state;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

/**
 * Who runs a migration, as the worker registers itself on the target when it claims the migration: where it serves
 * its API (whatever {@code --listen} said), on which host, under which process id, since when. Thin commands
 * (status, wait, pause, resume, validate) find a worker through it when nothing answers at the plan's control.listen.
 */
public record WorkerRecord(String address, String host, long pid, String startedAt) {
    /** This process, serving at {@code address} (host:port as bound; null when it serves nothing). */
    public static WorkerRecord self(String address) {
        return new WorkerRecord(address, localHost(), ProcessHandle.current().pid(), Instant.now().toString());
    }

    /**
     * Where a client on this machine connects: the registered address, except that a wildcard listen address
     * (0.0.0.0, ::) becomes the loopback address when the worker runs here and the worker's host name otherwise.
     */
    public String reachable() {
        if (address == null) {
            return null;
        }
        int colon = address.lastIndexOf(':');
        String h = colon < 0 ? address : address.substring(0, colon);
        String port = colon < 0 ? "" : address.substring(colon);
        if (h.equals("0.0.0.0") || h.equals("[::]") || h.equals("::") || h.isEmpty()) {
            return (localHost().equals(host) ? "127.0.0.1" : host) + port;
        }
        return address;
    }

    /** "pid 4242 on host db-ops-1, serving http://127.0.0.1:9470/ since 2026-11-27T04:01:02Z". */
    public String describe() {
        return "pid " + pid + " on host " + host + (address == null ? "" : ", serving http://" + address + "/") + " since " + startedAt;
    }

    /** The kernel's host name, read without a DNS lookup when the system offers it. */
    public static String localHost() {
        try {
            String name = Files.readString(Path.of("/proc/sys/kernel/hostname"), StandardCharsets.US_ASCII).trim();
            if (!name.isEmpty()) {
                return name;
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: ask the resolver
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }
}
