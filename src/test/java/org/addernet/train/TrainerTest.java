package org.addernet.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training on real data: the Fashion-MNIST images shipped in the test resources (the first 1000 training and
 * 500 test images of the official files, made by scripts/make-fixtures.sh).
 */
class TrainerTest {
    @TempDir
    Path tmp;

    static Path fixture() throws URISyntaxException {
        return Path.of(TrainerTest.class.getResource("/fashion-mnist-small").toURI());
    }

    static Config config(String... overrides) throws URISyntaxException {
        List<String> o = new ArrayList<>(List.of("model=lenet5bn", "dataset=fashion-mnist", "data_dir=" + fixture(),
                "batch_size=50", "lr=0.1", "augment=none", "threads=2", "log_every=1000", "seed=3"));
        o.addAll(List.of(overrides));
        return Config.load(null, o);
    }

    static List<String> metricLines(Path out) throws Exception {
        return Files.readAllLines(out.resolve("metrics.jsonl"));
    }

    static double field(String json, String key) {
        int i = json.indexOf("\"" + key + "\":");
        int j = i + key.length() + 3;
        int k = j;
        while (k < json.length() && ",}".indexOf(json.charAt(k)) < 0) k++;
        return Double.parseDouble(json.substring(j, k));
    }

    @Test
    void lenetAdderLossDropsOnRealImages() throws Exception {
        Path out = tmp.resolve("run");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (SingleProcess t = run(config("epochs=4"), out, new PrintStream(log, true, StandardCharsets.UTF_8))) {
            Trainer.EpochMetrics m = t.trainer().run();
            assertEquals(4, m.epoch());
        }
        List<String> lines = metricLines(out);
        assertEquals(4, lines.size());
        double first = field(lines.get(0), "train_loss"), last = field(lines.get(3), "train_loss");
        double acc = field(lines.get(3), "test_acc");
        System.out.printf("fashion-mnist fixture, lenet5bn adder: train loss %.4f -> %.4f, test acc %.3f%n", first, last, acc);
        assertTrue(first > 0 && Double.isFinite(first));
        assertTrue(last < 0.6 * first, "training loss should drop well below the first epoch's: " + first + " -> " + last);
        assertTrue(acc > 0.5, "10-class test accuracy after 4 epochs on 1000 images should beat 50%: " + acc);
        for (String key : new String[] {"epoch", "train_loss", "test_acc", "images_per_s", "seconds"}) {
            assertTrue(lines.get(0).contains("\"" + key + "\":"), "metrics line has " + key + ": " + lines.get(0));
        }
        // One checkpoint per epoch, the newest keep_checkpoints=3 kept.
        try (var s = Files.list(out.resolve("checkpoints"))) {
            assertEquals(List.of("ckpt-e0002-s000000.ckpt", "ckpt-e0003-s000000.ckpt", "ckpt-e0004-s000000.ckpt"),
                    s.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertTrue(Files.size(out.resolve("training-curves.png")) > 1000);
        assertEquals(5, Files.readAllLines(out.resolve("metrics.csv")).size(), "header and one line per epoch");
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("epoch 4/4"));
    }

    static String withoutTimes(String json) {
        return json.replaceAll("\"(seconds|eval_seconds|images_per_s)\":[0-9.eE+-]+", "\"$1\":_");
    }

    static SingleProcess run(Config cfg, Path out, PrintStream log) throws Exception {
        return new SingleProcess(new Recipe(cfg), RunFiles.local(out), log);
    }

    static final PrintStream QUIET = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);

    @Test
    void resumeReproducesTheUninterruptedRun() throws Exception {
        Path a = tmp.resolve("straight"), b = tmp.resolve("resumed");
        float[] straight;
        try (SingleProcess t = run(config("epochs=2", "train_limit=300", "test_limit=100"), a, QUIET)) {
            t.trainer().run();
            straight = t.trainer().model().params().data.clone();
        }
        // Stopped mid-epoch 2 (6 steps per epoch), then resumed in a new trainer.
        try (SingleProcess t = run(config("epochs=2", "train_limit=300", "test_limit=100", "max_steps=8"), b, QUIET)) {
            t.trainer().run();
        }
        try (SingleProcess t = run(config("epochs=2", "train_limit=300", "test_limit=100"), b, QUIET)) {
            t.trainer().resume();
            t.trainer().run();
            assertArrayEquals(straight, t.trainer().model().params().data, "resumed run ends with the same weights, bit for bit");
        }
        // Epoch 2's metrics agree too, apart from wall-clock fields.
        assertEquals(withoutTimes(metricLines(a).get(1)), withoutTimes(metricLines(b).get(1)));
    }

    @Test
    void emulatedWorkersSplitTheBatch() throws Exception {
        try (SingleProcess one = run(config("epochs=1", "train_limit=200", "test_limit=50", "checkpoint=false"), tmp.resolve("w1"), QUIET);
             SingleProcess two = run(config("epochs=1", "train_limit=200", "test_limit=50", "checkpoint=false", "emulate_workers=2"), tmp.resolve("w2"), QUIET)) {
            Trainer.EpochMetrics m1 = one.trainer().run(), m2 = two.trainer().run();
            // Different sampling and per-shard BN statistics: both train, and they are not the same run.
            assertTrue(Double.isFinite(m1.trainLoss()) && Double.isFinite(m2.trainLoss()));
            assertEquals(4, m1.steps());
            assertEquals(4, m2.steps());
            assertTrue(!java.util.Arrays.equals(one.trainer().model().params().data, two.trainer().model().params().data));
        }
    }

    @Test
    void unknownKeyIsAnError() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> config("learning_rate=0.1"));
        assertTrue(e.getMessage().contains("learning_rate"), e.getMessage());
    }
}
