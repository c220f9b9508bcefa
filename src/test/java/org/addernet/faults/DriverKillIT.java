package org.addernet.faults;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.addernet.model.Checkpoint;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The fault campaign's crash cases ({@code mvn -Pfaults verify}): training runs in child JVMs (the CLI, as a user
 * or a supervisor starts it) are killed with SIGKILL at random moments and inside the checkpoint-write window (a
 * temporary file complete, not yet renamed; held open by {@code -Daddernet.faults.write-delay-ms}), then restarted
 * with the same command plus {@code --resume} until they finish. Each must end with the undisturbed run's final
 * weights, BN buffers and momentum, bit for bit, and {@code metrics.jsonl} holding each epoch exactly once with the
 * same values. A disk that fills up (a real 800 kB tmpfs, where mounting is permitted) and a read-only {@code --out}
 * must stop the run with one clear line and the previous checkpoint intact. Prints the campaign's table.
 */
class DriverKillIT {
    static final Path ROOT = Path.of(System.getProperty("user.dir"));
    static final Path WORK = ROOT.resolve("target/faults");
    static final int EPOCHS = 3;
    static final List<String> ROWS = new ArrayList<>();
    static Path reference;
    static long referenceMillis;

    static List<String> recipe(Path out, boolean spark) throws Exception {
        Path data = Path.of(DriverKillIT.class.getResource("/fashion-mnist-small").toURI());
        List<String> a = new ArrayList<>(List.of("train", "--out", out.toString(), "model=lenet5bn", "dataset=fashion-mnist",
                "data_dir=" + data, "batch_size=50", "lr=0.1", "augment=none", "threads=1", "log_every=1", "seed=3",
                "train_limit=300", "test_limit=100", "epochs=" + EPOCHS, "checkpoint_every_steps=2", "keep_checkpoints=2"));
        // Two workers both ways: the Spark job with W = 2 equals the single process emulating them, bit for bit.
        if (spark) a.addAll(List.of("--master", "local[2]", "workers=2", "spark.ui.enabled=false"));
        else a.addAll(List.of("--single-process", "emulate_workers=2"));
        return a;
    }

    static List<String> jvmOptions() throws IOException {
        List<String> o = new ArrayList<>();
        for (String l : Files.readAllLines(ROOT.resolve("conf/jvm-options.txt"))) if (!l.isBlank() && !l.startsWith("#")) o.add(l.trim());
        return o;
    }

    /** A child JVM running the CLI; stdout and stderr to {@code log}. */
    static Process start(List<String> args, Path log, long writeDelayMs) throws IOException {
        return start(args, log, writeDelayMs, "1g");
    }

    static Process start(List<String> args, Path log, long writeDelayMs, String heap) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvmOptions());
        cmd.addAll(List.of("-Xmx" + heap, "-cp", System.getProperty("java.class.path")));
        if (writeDelayMs > 0) cmd.add("-Daddernet.faults.write-delay-ms=" + writeDelayMs);
        cmd.add("org.addernet.cli.Main");
        cmd.addAll(args);
        Files.createDirectories(log.getParent());
        return new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    static int runToEnd(List<String> args, Path log) throws Exception {
        return runToEnd(args, log, "1g");
    }

    static int runToEnd(List<String> args, Path log, String heap) throws Exception {
        Process p = start(args, log, 0, heap);
        if (!p.waitFor(600, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + log);
        }
        return p.exitValue();
    }

    @BeforeAll
    static void undisturbed() throws Exception {
        deleteTree(WORK);
        reference = WORK.resolve("reference");
        long t0 = System.nanoTime();
        assertEquals(0, runToEnd(recipe(reference, false), WORK.resolve("reference.log")), () -> tail(WORK.resolve("reference.log")));
        referenceMillis = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf(Locale.ROOT, "[faults] undisturbed run: %d ms%n", referenceMillis);
    }

    @AfterAll
    static void table() {
        System.out.println("[faults] | case | runs | survived | data lost | message quality |");
        System.out.println("[faults] |---|---|---|---|---|");
        for (String r : ROWS) System.out.println("[faults] " + r);
        ROWS.clear(); // a later class (HdfsIT) prints only its own rows
    }

    static Path finalCheckpoint(Path out) {
        return out.resolve(String.format(Locale.ROOT, "checkpoints/ckpt-e%04d-s000000.ckpt", EPOCHS));
    }

    static Checkpoint read(Path f) throws IOException {
        try (InputStream in = Files.newInputStream(f)) {
            return Checkpoint.read(in, f.toString());
        }
    }

    /** Every tensor (weights, BN buffers, momentum) bit for bit, and each epoch's metrics once with the same values. */
    static void assertSameAsReference(Path out, String what) throws Exception {
        Checkpoint want = read(finalCheckpoint(reference)), got = read(finalCheckpoint(out));
        assertEquals(want.tensors().keySet(), got.tensors().keySet());
        for (Map.Entry<String, Checkpoint.Entry> e : want.tensors().entrySet()) {
            float[] a = e.getValue().values(), b = got.tensors().get(e.getKey()).values();
            int[] ia = new int[a.length], ib = new int[b.length];
            for (int i = 0; i < a.length; i++) ia[i] = Float.floatToRawIntBits(a[i]);
            for (int i = 0; i < b.length; i++) ib[i] = Float.floatToRawIntBits(b[i]);
            assertArrayEquals(ia, ib, what + ": tensor " + e.getKey() + " differs");
        }
        assertEquals(want.meta().get("optimizer_steps"), got.meta().get("optimizer_steps"));
        assertEquals(want.meta().get("num_batches_tracked"), got.meta().get("num_batches_tracked"));
        List<String> m = withoutTimes(out.resolve("metrics.jsonl")), r = withoutTimes(reference.resolve("metrics.jsonl"));
        assertEquals(EPOCHS, m.size(), what + ": metrics.jsonl has " + m.size() + " lines");
        assertEquals(r, m, what + ": metrics differ");
        try (Stream<Path> s = Files.walk(out)) {
            List<Path> tmp = s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
            assertEquals(List.of(), tmp, what + ": temporary files left");
        }
    }

    static List<String> withoutTimes(Path f) throws IOException {
        return Files.readAllLines(f).stream().filter(l -> !l.isBlank())
                .map(l -> l.replaceAll("\"(seconds|eval_seconds|images_per_s)\":[^,}]+", "\"$1\":_")).toList();
    }

    /** A temporary file of a write in progress, if one is visible now. */
    static boolean writing(Path out) {
        for (Path d : new Path[] {out, out.resolve("checkpoints")}) {
            try (Stream<Path> s = Files.list(d)) {
                if (s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp"))) return true;
            } catch (IOException absent) {
                // not created yet
            }
        }
        return false;
    }

    /**
     * One case: the run killed {@code kills} times (at a random moment, or inside the k-th write window), each
     * time restarted with {@code --resume}, then left to finish.
     */
    void campaign(String name, long seed, boolean spark, boolean inWrite, int kills) throws Exception {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed); // java.util.Random gives nearly the same first double for seeds 1, 2, 3...
        Path out = WORK.resolve(name);
        List<String> first = recipe(out, spark), resume = new ArrayList<>(first);
        resume.add("--resume");
        int runs = 0, killed = 0;
        List<String> notes = new ArrayList<>();
        for (int attempt = 0; ; attempt++) {
            boolean kill = killed < kills;
            Path log = WORK.resolve(name + "-" + attempt + ".log");
            Process p = start(attempt == 0 ? first : resume, log, inWrite && kill ? 250 : 0);
            runs++;
            if (kill) {
                if (inWrite) {
                    int window = 1 + rnd.nextInt(4), seen = 0;
                    boolean inside = false;
                    long deadline = System.nanoTime() + 300_000_000_000L;
                    while (p.isAlive() && System.nanoTime() < deadline) {
                        if (writing(out)) {
                            if (!inside && ++seen == window) {
                                p.destroyForcibly(); // SIGKILL
                                notes.add("killed in write " + window);
                                break;
                            }
                            inside = true;
                        } else {
                            inside = false;
                        }
                        Thread.sleep(2);
                    }
                } else {
                    long at = (long) ((0.3 + 0.7 * rnd.nextDouble()) * referenceMillis * (spark ? 1.5 : 1.0)); // JVM start and data loading come first
                    if (p.waitFor(at, TimeUnit.MILLISECONDS)) notes.add("finished before the kill at " + at + " ms");
                    else {
                        p.destroyForcibly();
                        notes.add("killed at " + at + " ms");
                    }
                }
                p.waitFor(60, TimeUnit.SECONDS);
                killed++;
                if (p.exitValue() == 0) break; // it finished before the kill
                continue;
            }
            assertTrue(p.waitFor(600, TimeUnit.SECONDS), "timed out: " + log);
            String text = Files.readString(log, StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), () -> name + ": the resumed run failed:\n" + tail(log));
            if (attempt > 0) {
                assertTrue(text.contains("resumed from ") || text.contains("holds no checkpoint yet; starting the run from the beginning"),
                        name + ": the resumed run does not say what it read:\n" + text);
            }
            break;
        }
        assertSameAsReference(out, name);
        ROWS.add(String.format(Locale.ROOT, "| %s (%s) | %d | yes: weights, BN buffers, momentum bit-identical; metrics each epoch once | none | %s |",
                name, String.join(", ", notes), runs, "resume names the checkpoint it read; stale .tmp removed and reported"));
    }

    @Test
    void singleProcessKilledAtRandomMoments() throws Exception {
        for (int seed = 1; seed <= 4; seed++) campaign("random-" + seed, seed, false, false, 1 + seed % 2);
    }

    @Test
    void singleProcessKilledInsideACheckpointWrite() throws Exception {
        for (int seed = 11; seed <= 14; seed++) campaign("in-write-" + seed, seed, false, true, 1 + seed % 2);
    }

    @Test
    void sparkDriverKilledInsideACheckpointWriteAndAtRandom() throws Exception {
        campaign("spark-in-write", 21, true, true, 1);
        campaign("spark-random", 22, true, false, 1);
    }

    // ---- disk full and read-only output on real tmpfs mounts (root only; skipped elsewhere) ----

    static boolean mount(Path dir, String options) throws Exception {
        Files.createDirectories(dir);
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", options, "tmpfs", dir.toString()).redirectErrorStream(true).start();
        return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    static void umount(Path dir) throws Exception {
        new ProcessBuilder("umount", dir.toString()).redirectErrorStream(true).start().waitFor(30, TimeUnit.SECONDS);
    }

    @Test
    void aFullDiskStopsTheRunWithOneLineAndThePreviousCheckpointIntact() throws Exception {
        Path mnt = WORK.resolve("full-mnt");
        org.junit.jupiter.api.Assumptions.assumeTrue(mount(mnt, "size=800k"), "cannot mount a tmpfs here (needs root)");
        try {
            Path out = mnt.resolve("run");
            Path log = WORK.resolve("full-0.log");
            int code = runToEnd(recipe(out, false), log);
            String text = Files.readString(log);
            List<String> errors = text.lines().filter(l -> l.startsWith("addernet: ")).toList();
            assertEquals(2, code, text);
            assertEquals(1, errors.size(), text);
            assertTrue(errors.get(0).contains("cannot write " + out.resolve("checkpoints")) && errors.get(0).contains("No space left on device"), errors.get(0));
            assertFalse(text.contains("\tat "), "no stack trace:\n" + text);
            List<Path> left;
            try (Stream<Path> s = Files.list(out.resolve("checkpoints"))) {
                left = s.toList();
            }
            assertEquals(1, left.size(), "the checkpoint before the failed write, and nothing else: " + left);
            read(left.get(0)); // verifies its checksum
            // With space again, the same command plus --resume finishes the run as if nothing had happened.
            Process grow = new ProcessBuilder("mount", "-o", "remount,size=16m", mnt.toString()).redirectErrorStream(true).start();
            assertTrue(grow.waitFor(30, TimeUnit.SECONDS) && grow.exitValue() == 0);
            List<String> resume = new ArrayList<>(recipe(out, false));
            resume.add("--resume");
            assertEquals(0, runToEnd(resume, WORK.resolve("full-1.log")), () -> tail(WORK.resolve("full-1.log")));
            assertSameAsReference(out, "disk full");
            ROWS.add("| disk full (800 kB tmpfs, a checkpoint is 0.5 MB: the 2nd checkpoint does not fit) | 2 | yes: stopped, then resumed bit-identical | none: the 1st checkpoint intact, no .tmp | one line: `" + errors.get(0).replace(mnt.toString(), "MNT") + "` |");
        } finally {
            umount(mnt);
        }
    }

    @Test
    void aReadOnlyOutputFailsBeforeAnyDataIsRead() throws Exception {
        Path mnt = WORK.resolve("ro-mnt");
        org.junit.jupiter.api.Assumptions.assumeTrue(mount(mnt, "size=1m,ro"), "cannot mount a tmpfs here (needs root)");
        try {
            Path log = WORK.resolve("ro.log");
            assertEquals(2, runToEnd(recipe(mnt.resolve("run"), false), log));
            String text = Files.readString(log);
            List<String> errors = text.lines().filter(l -> l.startsWith("addernet: ")).toList();
            assertEquals(1, errors.size(), text);
            assertTrue(errors.get(0).contains("output folder " + mnt.resolve("run") + " is not writable"), errors.get(0));
            assertFalse(text.contains("data: "), "checked before any data is read:\n" + text);
            ROWS.add("| read-only --out (ro tmpfs) | 1 | n/a: refused before reading data | none | one line: `" + errors.get(0).replace(mnt.toString(), "MNT") + "` |");
        } finally {
            umount(mnt);
        }
    }

    static String tail(Path log) {
        try {
            List<String> l = Files.readAllLines(log);
            return String.join("\n", l.subList(Math.max(0, l.size() - 40), l.size()));
        } catch (IOException e) {
            return "(no log " + log + ")";
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(x);
        }
    }
}
