package org.addernet.train;

import static org.addernet.train.TrainerTest.config;
import static org.addernet.train.TrainerTest.metricLines;
import static org.addernet.train.TrainerTest.withoutTimes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.model.Checkpoint;
import org.addernet.model.Model;
import org.addernet.model.Models;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Versioned checkpoints, keep-k, resume from the newest one that verifies, the run-folder rules and the
 * non-finite stop, each against the uninterrupted run bit for bit (6 steps per epoch: 300 images, batch 50).
 */
class CheckpointsTest {
    @TempDir
    static Path shared;
    @TempDir
    Path tmp;

    static final String[] RUN = {"epochs=2", "train_limit=300", "test_limit=100"};
    /** The uninterrupted run's final weights, BN buffers, momentum, and its metrics without wall-clock fields. */
    static float[] weights, buffers, momentum;
    static List<String> metrics;

    static Config cfg(String... more) throws Exception {
        List<String> o = new ArrayList<>(List.of(RUN));
        o.addAll(List.of(more));
        return config(o.toArray(String[]::new));
    }

    static SingleProcess run(Path out, PrintStream log, String... more) throws Exception {
        return new SingleProcess(new Recipe(cfg(more)), RunFiles.local(out), log);
    }

    static final PrintStream QUIET = TrainerTest.QUIET;

    @BeforeAll
    static void straight() throws Exception {
        Path a = shared.resolve("straight");
        try (SingleProcess t = run(a, QUIET)) {
            t.trainer().run();
            weights = t.trainer().model().params().data.clone();
            buffers = t.trainer().model().params().buffers.clone();
            momentum = t.trainer().optimizer().momentumBuffer().clone();
        }
        metrics = metricLines(a).stream().map(TrainerTest::withoutTimes).toList();
    }

    static void assertSameAsStraight(SingleProcess t, Path out) throws Exception {
        Params p = t.trainer().model().params();
        assertArrayEquals(weights, p.data, "weights, bit for bit");
        assertArrayEquals(buffers, p.buffers, "BN buffers, bit for bit");
        assertArrayEquals(momentum, t.trainer().optimizer().momentumBuffer(), "momentum, bit for bit");
        assertEquals(metrics, metricLines(out).stream().map(TrainerTest::withoutTimes).toList(), "each epoch's metrics once, the same");
    }

    static String log(ByteArrayOutputStream b) {
        return b.toString(StandardCharsets.UTF_8);
    }

    /** A run stopped after {@code steps} steps (epoch-end checkpoint at 6, the stop's checkpoint at {@code steps}). */
    static void stopAfter(Path out, int steps, String... more) throws Exception {
        List<String> o = new ArrayList<>(List.of(more));
        o.add("max_steps=" + steps);
        try (SingleProcess t = run(out, QUIET, o.toArray(String[]::new))) {
            t.trainer().run();
        }
    }

    @Test
    void checkpointsAreVersionedAndTheNewestKeepAreKept() throws Exception {
        Path out = tmp.resolve("run");
        stopAfter(out, 9, "checkpoint_every_steps=2", "keep_checkpoints=2");
        // Steps 2, 4 (epoch 1), epoch end, 8, and the stop at 9 (epoch 2, step 3): the last two kept.
        assertEquals(List.of("checkpoints/ckpt-e0001-s000002.ckpt", "checkpoints/ckpt-e0001-s000003.ckpt"),
                Checkpoints.list(RunFiles.local(out)));
        try (InputStream in = Files.newInputStream(out.resolve("checkpoints/ckpt-e0001-s000003.ckpt"))) {
            Checkpoint c = Checkpoint.read(in, "x");
            assertEquals("1", c.meta().get("epoch"));
            assertEquals("3", c.meta().get("step"));
            assertEquals("9", c.meta().get("optimizer_steps"));
        }
    }

    @Test
    void resumeSkipsATornOrCorruptNewestCheckpoint() throws Exception {
        for (String damage : new String[] {"truncated", "bit-flipped", "empty"}) {
            Path out = tmp.resolve(damage);
            stopAfter(out, 9);
            Path newest = out.resolve("checkpoints/ckpt-e0001-s000003.ckpt");
            byte[] b = Files.readAllBytes(newest);
            switch (damage) {
                case "truncated" -> Files.write(newest, java.util.Arrays.copyOf(b, b.length / 2));
                case "bit-flipped" -> {
                    b[b.length / 2] ^= 0x10;
                    Files.write(newest, b);
                }
                default -> Files.write(newest, new byte[0]);
            }
            ByteArrayOutputStream l = new ByteArrayOutputStream();
            try (SingleProcess t = run(out, new PrintStream(l, true, StandardCharsets.UTF_8))) {
                t.trainer().resume();
                assertTrue(log(l).contains("skipping checkpoint " + newest), damage + ": " + log(l));
                assertTrue(log(l).contains("resumed from " + out.resolve("checkpoints/ckpt-e0001-s000000.ckpt") + " at epoch 2 step 0"), log(l));
                t.trainer().run();
                assertSameAsStraight(t, out);
            }
        }
    }

    @Test
    void resumeOnAFolderWithoutCheckpointStartsFromTheBeginning() throws Exception {
        Path out = tmp.resolve("fresh");
        ByteArrayOutputStream l = new ByteArrayOutputStream();
        try (SingleProcess t = run(out, new PrintStream(l, true, StandardCharsets.UTF_8))) {
            t.trainer().resume();
            assertTrue(log(l).contains("holds no checkpoint yet; starting the run from the beginning"), log(l));
            t.trainer().run();
            assertSameAsStraight(t, out);
        }
    }

    @Test
    void resumeFromAGivenCheckpoint() throws Exception {
        Path out = tmp.resolve("from");
        stopAfter(out, 9);
        Path older = tmp.resolve("elsewhere.ckpt");
        Files.copy(out.resolve("checkpoints/ckpt-e0001-s000000.ckpt"), older);
        try (SingleProcess t = run(tmp.resolve("from2"), QUIET)) {
            // The metrics of epoch 1 are in the first folder: copy them as a user moving a run would.
            Files.createDirectories(tmp.resolve("from2"));
            Files.copy(out.resolve("metrics.jsonl"), tmp.resolve("from2/metrics.jsonl"));
            t.trainer().resumeFrom(older.toString());
            t.trainer().run();
            assertSameAsStraight(t, tmp.resolve("from2"));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            try (SingleProcess t = run(tmp.resolve("from3"), QUIET, "lr=0.5", "seed=7", "epochs=3")) {
                t.trainer().resumeFrom(older.toString());
            }
        });
        // The keys that change the math are listed with both values; epochs may change.
        assertTrue(e.getMessage().contains("lr: 0.1 -> 0.5") && e.getMessage().contains("seed: 3 -> 7"), e.getMessage());
        assertFalse(e.getMessage().contains("epochs"), e.getMessage());
        java.io.IOException missing = assertThrows(java.io.IOException.class, () -> {
            try (SingleProcess t = run(tmp.resolve("from4"), QUIET)) {
                t.trainer().resumeFrom(tmp.resolve("nope.ckpt").toString());
            }
        });
        assertTrue(missing.getMessage().contains("nope.ckpt"), missing.getMessage());
    }

    @Test
    void aRunFolderIsNeverReplacedByAccident() throws Exception {
        Path out = tmp.resolve("held");
        stopAfter(out, 7);
        RunFiles f = RunFiles.local(out);
        Files.writeString(out.resolve("checkpoints/.ckpt-e0001-s000002.ckpt.123.tmp"), "torn");
        Files.writeString(out.resolve(".metrics.jsonl.9.tmp"), "torn");
        ByteArrayOutputStream l = new ByteArrayOutputStream();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Checkpoints.prepareRunFolder(f, false, false, new PrintStream(l, true, StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains(out.toString()) && e.getMessage().contains("--resume") && e.getMessage().contains("--overwrite"),
                e.getMessage());
        // The stale temporary files are gone, the run is intact.
        assertTrue(log(l).contains("removed 2 temporary files"), log(l));
        assertFalse(Files.exists(out.resolve("checkpoints/.ckpt-e0001-s000002.ckpt.123.tmp")));
        assertEquals(2, Checkpoints.list(f).size());
        Checkpoints.prepareRunFolder(f, true, false, QUIET);
        assertEquals(2, Checkpoints.list(f).size());
        Checkpoints.prepareRunFolder(f, false, true, QUIET);
        assertEquals(List.of(), Checkpoints.list(f));
        assertFalse(Files.exists(out.resolve("metrics.jsonl")));
    }

    @Test
    void anUnwritableOrFileOutputFailsBeforeAnythingElse() throws Exception {
        Path file = tmp.resolve("a-file");
        Files.writeString(file, "x");
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> Checkpoints.prepareRunFolder(RunFiles.local(file), false, false, QUIET));
        assertTrue(e.getMessage().contains("output folder " + file + " is not writable"), e.getMessage());
        assertTrue(e.getMessage().contains("exists and is not a folder"), e.getMessage());
        Path ro = tmp.resolve("read-only");
        Files.createDirectories(ro);
        assertTrue(ro.toFile().setWritable(false, false));
        try {
            if (Files.isWritable(ro) && "root".equals(System.getProperty("user.name"))) {
                // root writes anywhere; the permission case is then proved by the sub-folder of a file instead.
                ro = file.resolve("sub");
            }
            Path target = ro;
            java.io.IOException r = assertThrows(java.io.IOException.class, () -> Checkpoints.prepareRunFolder(RunFiles.local(target), false, false, QUIET));
            assertTrue(r.getMessage().contains("output folder " + target + " is not writable"), r.getMessage());
        } finally {
            tmp.resolve("read-only").toFile().setWritable(true, false);
        }
    }

    @Test
    void secretsAreNeverWritten() throws Exception {
        Path out = tmp.resolve("secret");
        try (SingleProcess t = run(out, QUIET, "epochs=1", "spark.hadoop.fs.s3a.secret.key=SUPERSECRET1", "spark.hadoop.fs.s3a.access.key=ACCESS1",
                "spark.hadoop.fs.s3a.session.token=TOKEN1")) {
            t.trainer().run();
        }
        Path ckpt = out.resolve("checkpoints/ckpt-e0001-s000000.ckpt");
        String bytes = new String(Files.readAllBytes(ckpt), StandardCharsets.ISO_8859_1);
        for (String s : new String[] {"SUPERSECRET1", "ACCESS1", "TOKEN1"}) assertFalse(bytes.contains(s), s + " in the checkpoint");
        assertTrue(bytes.contains("meta.config.spark.hadoop.fs.s3a.secret.key=<redacted>"));
        for (String f : new String[] {"metrics.jsonl", "metrics.csv"}) assertFalse(Files.readString(out.resolve(f)).contains("SECRET"), f);
        Config c = cfg("spark.hadoop.fs.s3a.secret.key=S", "spark.hadoop.fs.azure.account.key.x=K", "spark.some.password=P", "spark.executor.memory=2g");
        assertEquals("<redacted>", c.redacted().get("spark.hadoop.fs.s3a.secret.key"));
        assertEquals("<redacted>", c.redacted().get("spark.some.password"));
        assertEquals("2g", c.redacted().get("spark.executor.memory"));
        assertEquals("S", c.asMap().get("spark.hadoop.fs.s3a.secret.key"), "the run itself still gets the value");
    }

    @Test
    void aDivergingRunStopsBeforeAPoisonedStateIsKept() throws Exception {
        // The case: lr=1e6, a checkpoint every step; the weights went NaN at step 4 while the loss was finite.
        Path out = tmp.resolve("diverge");
        FiniteCheck.NonFinite e;
        try (SingleProcess t = run(out, QUIET, "lr=1e6", "checkpoint_every_steps=1")) {
            e = assertThrows(FiniteCheck.NonFinite.class, () -> t.trainer().run());
            assertNull(FiniteCheck.firstNonFinite(t.trainer().model().params()), "the poisoned step was not applied");
        }
        assertTrue(e.getMessage().matches("non-finite .+ at epoch 1 step [0-9]+(, first in layer [a-z0-9_.]+)? \\(the last checkpoint, .+, is kept\\)"),
                e.getMessage());
        List<String> all = Checkpoints.list(RunFiles.local(out));
        assertFalse(all.isEmpty());
        for (String name : all) {
            try (InputStream in = Files.newInputStream(out.resolve(name))) {
                for (var t : Checkpoint.read(in, name).tensors().entrySet()) {
                    for (float v : t.getValue().values()) assertTrue(Float.isFinite(v), name + " " + t.getKey());
                }
            }
        }
        assertTrue(e.getMessage().contains(out.resolve(all.get(all.size() - 1)).toString()), e.getMessage());
    }

    @Test
    void anUpdateThatOverflowsIsUndone() {
        try (Engine en = Engine.create(1, "scalar")) {
            Model m = Models.create("lenet5bn", true, 10, en, 1);
            Params p = m.params();
            Sgd sgd = new Sgd(p.size(), 0.9, 0, false, 0.2);
            float[] w = p.data.clone(), b = p.buffers.clone();
            float[] g = new float[p.size()];
            java.util.Arrays.fill(g, 1e30f);
            double[] stats = new double[p.buffers.length];
            for (int i = 0; i < stats.length; i++) stats[i] = 4.0 * b[i];
            StepAggregate agg = StepAggregate.of(g, stats, 4, 1.0, 1);
            // Adder gradients are rescaled to eta*sqrt(n)/norm (finite updates); bn1's weight gets 1e30 * lr 1e30 = inf.
            FiniteCheck.NonFinite e = assertThrows(FiniteCheck.NonFinite.class,
                    () -> agg.apply(m, sgd, 1e30, false, "epoch 2 step 5", "(the last checkpoint, X, is kept)", new FiniteCheck()));
            assertEquals("non-finite weights after the update at epoch 2 step 5, first in layer bn1.weight (the last checkpoint, X, is kept)", e.getMessage());
            assertArrayEquals(w, p.data);
            assertArrayEquals(b, p.buffers);
            assertEquals(0, sgd.steps());
            assertEquals(0, m.numBatchesTracked());
            g[p.view("conv2.adder").offset() + 3] = Float.NaN;
            FiniteCheck.NonFinite nan = assertThrows(FiniteCheck.NonFinite.class,
                    () -> StepAggregate.of(g, stats, 4, 1.0, 1).apply(m, sgd, 0.1, false, "epoch 1 step 1", "(no checkpoint written yet)", new FiniteCheck()));
            assertEquals("non-finite gradient at epoch 1 step 1, first in layer conv2.adder (no checkpoint written yet)", nan.getMessage());
        }
    }
}
