package org.addernet.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.addernet.model.Checkpoint;

/**
 * The versioned checkpoints of a run folder: {@code checkpoints/ckpt-e<E>-s<S>.ckpt}, E the epochs completed and S
 * the next step of the epoch in progress (so the end of epoch 3 is {@code ckpt-e0003-s000000.ckpt}). A new one is
 * written completely under its own name before the oldest beyond {@code keep_checkpoints} is deleted, so a crash at
 * any moment leaves at least the previous one. Resuming takes the newest whose checksum verifies; a torn or corrupt
 * one is reported and skipped. {@code checkpoint.ckpt} at the top of the folder (the single file of earlier builds)
 * is read as the oldest candidate.
 *
 * <p>Also the run-folder rules of {@code train}: a folder that holds a run is continued only with {@code --resume}
 * and replaced only with {@code --overwrite}; on resume, a key that changes the math may not change.
 */
public final class Checkpoints {
    private Checkpoints() {}

    public static final String FOLDER = "checkpoints";
    /** The single checkpoint of earlier builds. */
    public static final String LEGACY = "checkpoint.ckpt";
    private static final Pattern NAME = Pattern.compile("ckpt-e([0-9]+)-s([0-9]+)\\.ckpt");

    /** The file name (relative to the run folder) of the checkpoint at position (epochs done, next step). */
    public static String name(int epoch, int step) {
        return String.format(Locale.ROOT, "%s/ckpt-e%04d-s%06d.ckpt", FOLDER, epoch, step);
    }

    /** The run's checkpoints, oldest first (by position, numerically; the legacy file before all). */
    public static List<String> list(RunFiles files) throws IOException {
        List<long[]> found = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (String f : files.list(FOLDER)) {
            Matcher m = NAME.matcher(f);
            if (m.matches()) found.add(new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), names.size()});
            if (m.matches()) names.add(FOLDER + "/" + f);
        }
        found.sort(Comparator.<long[]>comparingLong(a -> a[0]).thenComparingLong(a -> a[1]));
        List<String> r = new ArrayList<>();
        if (files.exists(LEGACY)) r.add(LEGACY);
        for (long[] a : found) r.add(names.get((int) a[2]));
        return r;
    }

    /** The newest checkpoint's name (not verified), or null if there is none. */
    public static String newest(RunFiles files) throws IOException {
        List<String> all = list(files);
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    /** A checkpoint read and verified, with the name it was read from. */
    public record Found(String name, String where, Checkpoint checkpoint) {}

    /**
     * The newest checkpoint whose checksum verifies, or null if the folder holds none. Each newer one that does not
     * verify is reported on {@code log} and skipped; if none verifies, an IOException lists them.
     */
    public static Found newestValid(RunFiles files, PrintStream log) throws IOException {
        List<String> all = list(files);
        List<String> bad = new ArrayList<>();
        for (int i = all.size() - 1; i >= 0; i--) {
            String name = all.get(i), where = files.describe(name);
            try (InputStream in = files.open(name)) {
                return new Found(name, where, Checkpoint.read(in, where));
            } catch (IOException e) {
                log.println("warning: skipping checkpoint " + RunFiles.oneLine(e));
                bad.add(where);
            }
        }
        if (bad.isEmpty()) return null;
        throw new IOException("no readable checkpoint in " + files.describe("") + ": " + String.join(", ", bad) + " are all corrupt");
    }

    /** Reads one given checkpoint (a name in the run folder, or an absolute path / URI). */
    public static Found read(RunFiles files, String name) throws IOException {
        String where = files.describe(name);
        if (!files.exists(name)) throw new IOException("checkpoint not found: " + where);
        try (InputStream in = files.open(name)) {
            return new Found(name, where, Checkpoint.read(in, where));
        }
    }

    /** Deletes the oldest checkpoints beyond the newest {@code keep}. */
    public static void prune(RunFiles files, int keep) throws IOException {
        List<String> all = list(files);
        for (int i = 0; i < all.size() - keep; i++) files.delete(all.get(i));
    }

    /** Files of a run that {@code --overwrite} replaces (and whose presence needs {@code --resume} or it). */
    static final List<String> RUN_FILES = List.of("metrics.jsonl", "metrics.csv", "training-curves.png", LEGACY);

    /**
     * The run-folder rules, checked before any data is read: the folder must be writable; temporary files of a
     * crashed writer are removed; a folder holding a run needs {@code resume} or {@code overwrite} (which deletes
     * its checkpoints and metrics).
     */
    public static void prepareRunFolder(RunFiles files, boolean resume, boolean overwrite, PrintStream log) throws IOException {
        if (resume && overwrite) throw new IllegalArgumentException("--resume and --overwrite exclude each other");
        files.checkWritable();
        int stale = files.removeStale(FOLDER);
        if (stale > 0) log.println("removed " + stale + " temporary file" + (stale > 1 ? "s" : "") + " left by an interrupted write in " + files.describe(""));
        List<String> held = new ArrayList<>(list(files));
        for (String f : RUN_FILES) if (!held.contains(f) && files.exists(f)) held.add(f);
        if (held.isEmpty() || resume) return;
        if (!overwrite) {
            throw new IllegalArgumentException(files.describe("") + " already holds a run (" + String.join(", ", held)
                    + "): continue it with --resume, or replace it with --overwrite");
        }
        for (String f : held) files.delete(f);
        log.println("--overwrite: deleted " + held.size() + " file" + (held.size() > 1 ? "s" : "") + " of the previous run in " + files.describe(""));
    }

    /**
     * Keys that may change on {@code --resume}: they do not alter the weights a step computes (logging, when and how
     * many checkpoints, how far this invocation goes, evaluation batching, where the data sits, engine threads,
     * which the engine makes bit-exact at any count), or extend the run ({@code epochs}; the schedule of the remaining
     * epochs then follows the new count). Spark settings ({@code spark.*}) may change too: the partition count is
     * {@code workers}, checked with the rest.
     */
    public static final Set<String> MAY_CHANGE_ON_RESUME = Set.of("epochs", "log_every", "checkpoint", "checkpoint_every_steps",
            "keep_checkpoints", "max_steps", "eval_batch_size", "data_dir", "threads", "step_timing");

    /**
     * Compares the recipe recorded in a checkpoint ({@code config.*} meta keys) with this run's; a change of any key
     * outside {@link #MAY_CHANGE_ON_RESUME} is an error listing every such key with both values. Keys the checkpoint
     * does not record (a newer build's) are compared with their defaults.
     */
    public static void checkSameRecipe(Map<String, String> meta, Map<String, String> current, String where, PrintStream log) {
        Map<String, String> recorded = new TreeMap<>();
        for (Map.Entry<String, String> e : meta.entrySet()) {
            if (e.getKey().startsWith("config.")) recorded.put(e.getKey().substring(7), e.getValue());
        }
        if (recorded.isEmpty()) return; // a checkpoint without a recipe (written by a test or a tool): nothing to compare
        Set<String> keys = new TreeSet<>(current.keySet());
        List<String> changed = new ArrayList<>(), noted = new ArrayList<>();
        for (String k : keys) {
            if (k.startsWith(Config.SPARK_PREFIX)) continue;
            String was = recorded.get(k);
            if (was == null) {
                Config.Key key = Config.KEYS.stream().filter(x -> x.name().equals(k)).findFirst().orElse(null);
                was = key == null ? null : key.defaultValue();
            }
            String is = current.get(k);
            if (was == null || was.equals(is)) continue;
            String line = k + ": " + was + " -> " + is;
            if (MAY_CHANGE_ON_RESUME.contains(k)) noted.add(line);
            else changed.add(line);
        }
        if (!changed.isEmpty()) {
            throw new IllegalArgumentException("--resume: the recipe differs from the one recorded in " + where + " in keys that change the math ("
                    + String.join("; ", changed) + "); resume with the recorded values, or start a new run in another --out");
        }
        for (String n : noted) log.println("note: resuming with " + n);
    }
}
