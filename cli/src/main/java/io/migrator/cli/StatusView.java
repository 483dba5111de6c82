package io.migrator.cli;

import io.migrator.core.state.MigrationStatus;
import java.io.PrintStream;
import java.util.Locale;

/** The terminal form of a status: phase, lag, progress bars with ETA, validation and cutover readiness. */
final class StatusView {
    private static final int BAR = 24;

    private StatusView() {
    }

    static void print(MigrationStatus s, Output output, PrintStream out) {
        print(s, output, out, io.migrator.core.spi.EnginePipeline.Unit.ROWS);
    }

    /** {@code what}: rows of tables, or keys of databases (the source log then is a replication backlog of fixed size). */
    static void print(MigrationStatus s, Output output, PrintStream out, io.migrator.core.spi.EnginePipeline.Unit what) {
        boolean keys = what == io.migrator.core.spi.EnginePipeline.Unit.KEYS;
        String group = " " + what.groups() + ", ";
        String unit = what.items();
        String worker = s.worker() != null && s.worker().running() ? "worker running at http://" + s.worker().listen() + "/"
                : "worker not running (durable state on the target)";
        boolean running = s.worker() != null && s.worker().running();
        if (!running && s.phases().isEmpty()) {
            out.println("migration " + s.name() + "  not started: no `migrator run` is recorded on the target");
            return;
        }
        String phase = s.phase().name() + (s.paused() ? " (paused)" : "") + ("reverse".equals(s.direction()) ? " (reverse replication: new server -> old source)" : "");
        out.println("migration " + s.name() + "  " + (s.phase().name().equals("FAILED") ? output.bad(phase) : output.good(phase)) + "  "
                + worker);
        MigrationStatus.Lag lag = s.lag();
        if (lag != null && (lag.seconds() != null || lag.bytes() != null)) {
            StringBuilder line = new StringBuilder("lag        ").append(seconds(lag.seconds()));
            if (lag.bytes() != null) {
                line.append("  ").append(bytes(lag.bytes())).append(" of source log behind");
            }
            if (lag.events() != null && lag.events() > 0) {
                line.append(", ").append(lag.events()).append(" events in flight");
            }
            if (lag.etaSeconds() != null) {
                line.append("  catch-up ETA ").append(duration(lag.etaSeconds()));
            }
            out.println(line);
            if (keys) { // a replication backlog of fixed size, overwritten at the write rate
                out.println("backlog    " + (lag.retentionHeadroomSeconds() == null ? "no measurable writes: the checkpoint stays in it"
                        : "about " + duration(lag.retentionHeadroomSeconds()) + " of writes until it drops the checkpoint (then a restart "
                        + "costs a full resync)"));
            } else {
                String server = "reverse".equals(s.direction()) ? "the new server" : "source";
                out.println("retention  " + (lag.retentionHeadroomSeconds() == null ? server + " does not purge its log by age"
                        : "at least " + duration(lag.retentionHeadroomSeconds()) + " before " + server + " may purge log still needed"));
            }
            if (lag.retainedBytes() != null) {
                out.println("reverse".equals(s.direction())
                        ? "slot       the new server keeps " + bytes(lag.retainedBytes()) + " of WAL for reverse replication's slot (it grows "
                        + "while that stream stalls; a rollback or `migrator complete` drops it)"
                        : "slot       the source keeps " + bytes(lag.retainedBytes()) + " of WAL for this migration's replication slot"
                        + " (`migrator complete` drops it)");
            }
        } else {
            out.println("lag        unknown" + (s.worker() != null && s.worker().running() ? " (nothing applied yet)" : " (no worker measures it)"));
        }
        MigrationStatus.Degraded degraded = s.degraded();
        if (degraded != null) {
            out.println("health     DEGRADED since " + degraded.since() + ": reconnecting (" + degraded.attempts() + " failed attempt(s), "
                    + "for up to " + degraded.maxOutageSeconds() + " s): " + degraded.lastError());
        }
        MigrationStatus.Applied applied = s.applied();
        if (applied != null) {
            out.println("applied    " + applied.events() + " events" + (applied.eventsPerSecond() == null ? ""
                    : String.format(Locale.ROOT, "  %.0f/s", applied.eventsPerSecond())));
        }
        MigrationStatus.Snapshot snap = s.snapshot();
        if (snap != null) {
            String rate = s.throughput() == null || s.throughput().rowsPerSecond() == null || s.throughput().rowsPerSecond() < 1 ? ""
                    : String.format(Locale.ROOT, "  %.0f " + unit + "/s", s.throughput().rowsPerSecond());
            String eta = "";
            if (!rate.isEmpty() && snap.rowsEstimated() > snap.rowsCopied()) {
                eta = "  ETA " + duration((snap.rowsEstimated() - snap.rowsCopied()) / s.throughput().rowsPerSecond());
            }
            out.println("snapshot   " + snap.tablesDone() + "/" + snap.tablesTotal() + group + snap.rowsCopied() + " " + unit + " copied" + rate
                    + eta);
            int width = snap.tables().stream().mapToInt(t -> t.table().length()).max().orElse(10);
            for (MigrationStatus.TableProgress t : snap.tables()) {
                double share = t.done() ? 1 : t.rowsEstimated() <= 0 ? 0 : Math.min(0.99, (double) t.rowsCopied() / t.rowsEstimated());
                int filled = (int) Math.round(share * BAR);
                out.println(String.format(Locale.ROOT, "  %-" + width + "s [%s%s] %3d%%  %d/%d " + unit + (keys ? "" : "  %d/%d chunks"),
                        t.table(), "#".repeat(filled), ".".repeat(BAR - filled), (int) Math.floor(share * 100), t.rowsCopied(), t.rowsEstimated(),
                        t.chunksDone(), t.chunksTotal()));
            }
        }
        MigrationStatus.Validation v = s.validation();
        if (v != null) {
            out.println("validation " + v.state() + (v.lastRunAt() == null ? "" : " at " + v.lastRunAt()) + ", " + v.mismatches() + " mismatches"
                    + (v.parityPercent() == null ? "" : String.format(Locale.ROOT, ", parity %.4f%%", v.parityPercent())));
        }
        out.println("cutover    " + (s.cutoverReady() ? output.good("ready") : "not ready"));
        if (s.error() != null) {
            out.println(output.bad("error      ") + s.error().message());
            if (s.error().remedy() != null) {
                out.println("  remedy: " + s.error().remedy());
            }
        }
    }

    static String seconds(Double seconds) {
        if (seconds == null) {
            return "unknown";
        }
        return seconds < 10 ? String.format(Locale.ROOT, "%.2f s", seconds) : duration(seconds);
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return s / 60 + "m" + (s % 60 == 0 ? "" : " " + s % 60 + "s");
        }
        if (s < 86_400) {
            return s / 3600 + "h" + (s % 3600 / 60 == 0 ? "" : " " + s % 3600 / 60 + "m");
        }
        return s / 86_400 + "d" + (s % 86_400 / 3600 == 0 ? "" : " " + s % 86_400 / 3600 + "h");
    }

    static String bytes(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }
}
