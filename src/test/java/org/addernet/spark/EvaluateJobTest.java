package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.addernet.data.Datasets;
import org.addernet.data.ImageDataset;
import org.addernet.engine.Engine;
import org.addernet.model.Checkpoint;
import org.addernet.model.Model;
import org.addernet.train.Config;
import org.addernet.train.EvalStats;
import org.addernet.train.Recipe;
import org.addernet.train.RunFiles;
import org.addernet.train.SingleProcess;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code addernet evaluate}: the Spark evaluation of a trained checkpoint on W = 3 partitions against one
 * process over the whole test split, its files, and its errors.
 */
class EvaluateJobTest {
    @TempDir
    static Path run;
    static Path checkpoint;

    /** Fixture recipe; test_limit=100 during training must not leak into evaluation (whole split: 500). */
    static List<String> trainingKeys() throws Exception {
        Path data = Path.of(EvaluateJobTest.class.getResource("/fashion-mnist-small").toURI());
        return List.of("model=lenet5bn", "dataset=fashion-mnist", "data_dir=" + data, "batch_size=20", "lr=0.1", "augment=none",
                "threads=1", "log_every=1000", "seed=7", "train_limit=600", "test_limit=100", "epochs=2");
    }

    /** Trains 2 epochs on 600 samples in one process and leaves its last checkpoint, {@code dir/checkpoints/ckpt-e0002-s000000.ckpt}. */
    static Path train(Path dir) throws Exception {
        try (SingleProcess sp = new SingleProcess(new Recipe(Config.load(null, trainingKeys())), RunFiles.local(dir), SparkJobTest.QUIET)) {
            sp.trainer().run();
        }
        Path c = dir.resolve("checkpoints/ckpt-e0002-s000000.ckpt");
        assertTrue(Files.isRegularFile(c));
        return c;
    }

    @BeforeAll
    static void trainOnce() throws Exception {
        checkpoint = train(run);
    }

    static Configuration hadoop() {
        return LocalSpark.get().sparkContext().hadoopConfiguration();
    }

    /** The checkpoint's model with its weights, built here from the training recipe, not by the job's code. */
    static Model restored(Engine engine, Path ckpt) throws Exception {
        Model m = new Recipe(Config.load(null, trainingKeys())).model(engine);
        try (InputStream in = Files.newInputStream(ckpt)) {
            Checkpoint.read(in, ckpt.toString()).restoreInto(m, ckpt.toString());
        }
        return m;
    }

    static ImageDataset wholeTestSplit() throws Exception {
        return Datasets.open("fashion-mnist", Path.of(EvaluateJobTest.class.getResource("/fashion-mnist-small").toURI()), false);
    }

    @Test
    void distributedEvaluationEqualsOneProcessOverTheWholeSplit() throws Exception {
        EvalStats ref;
        ImageDataset test = wholeTestSplit();
        assertEquals(500, test.count());
        try (Engine engine = Engine.create(1, "auto")) {
            Model m = restored(engine, checkpoint);
            ref = SingleProcess.evaluate(m, new Recipe(Config.load(null, trainingKeys())).assembler(test, false), 64, engine);
        }
        Path out = run.resolve("eval-w3");
        LoadedCheckpoint ckpt = LoadedCheckpoint.read(checkpoint.toString(), null, List.of("workers=3"), hadoop());
        EvaluateJob.Result r = EvaluateJob.run(LocalSpark.get(), ckpt, "test", out.toString(), SparkJobTest.QUIET);
        EvalStats s = r.stats();
        System.out.print(EvaluateJob.summary(r));

        assertEquals(3, r.workers());
        assertEquals(500, s.count());
        assertEquals(ref.count(), s.count());
        assertEquals(ref.top1Hits(), s.top1Hits());
        assertEquals(ref.top5Hits(), s.top5Hits());
        assertArrayEquals(ref.perClassCount(), s.perClassCount());
        assertArrayEquals(ref.perClassHits(), s.perClassHits());
        assertArrayEquals(ref.confusion(), s.confusion());
        assertEquals(ref.loss(), s.loss(), 1e-9 * Math.abs(ref.loss()));
        // Better than chance (0.1 on 10 classes): the trained weights were used.
        assertTrue(s.top1() > 0.25, "top-1 " + s.top1());
        assertTrue(s.top5() >= s.top1());

        String json = Files.readString(out.resolve("evaluation.json"));
        assertEquals(ref.top1(), Double.parseDouble(field(json, "top1")));
        assertEquals(ref.top5(), Double.parseDouble(field(json, "top5")));
        assertEquals(500, Long.parseLong(field(json, "count")));
        assertEquals("\"test\"", field(json, "split"));
        assertEquals("\"lenet5bn_adder\"", field(json, "model"));
        assertTrue(json.contains("\"confusion\":[["), json);

        // per_class.csv: counts sum to the sample count; confusion.csv: each row sums to its class count.
        List<String> perClass = Files.readAllLines(out.resolve("per_class.csv"));
        assertEquals("class,count,correct,accuracy", perClass.get(0));
        assertEquals(11, perClass.size());
        long[] count = new long[10];
        long sum = 0;
        for (int c = 0; c < 10; c++) {
            String[] f = perClass.get(c + 1).split(",");
            assertEquals(c, Integer.parseInt(f[0]));
            count[c] = Long.parseLong(f[1]);
            sum += count[c];
            assertEquals(ref.classAccuracy(c), Double.parseDouble(f[3]));
        }
        assertEquals(500, sum);
        assertArrayEquals(ref.perClassCount(), count);
        List<String> confusion = Files.readAllLines(out.resolve("confusion.csv"));
        assertEquals(11, confusion.size());
        long diagonal = 0;
        for (int t = 0; t < 10; t++) {
            String[] f = confusion.get(t + 1).split(",");
            assertEquals(11, f.length);
            long row = 0;
            for (int p = 0; p < 10; p++) row += Long.parseLong(f[p + 1]);
            assertEquals(count[t], row, "confusion row " + t);
            diagonal += Long.parseLong(f[t + 1]);
        }
        assertEquals(s.top1Hits(), diagonal);
    }

    @Test
    void defaultOutputIsNextToTheCheckpointAndAFolderFindsItsCheckpoint() throws Exception {
        // A run folder instead of the file, and the default partitioning (Spark's default parallelism).
        LoadedCheckpoint ckpt = LoadedCheckpoint.read(run.toString(), null, List.of(), hadoop());
        assertTrue(ckpt.path.endsWith("checkpoints/ckpt-e0002-s000000.ckpt"), ckpt.path);
        EvaluateJob.Result r = EvaluateJob.run(LocalSpark.get(), ckpt, "test", null, SparkJobTest.QUIET);
        assertEquals(LocalSpark.get().sparkContext().defaultParallelism(), r.workers());
        String json = Files.readString(run.resolve("evaluation/evaluation.json"));
        assertEquals(r.stats().top1(), Double.parseDouble(field(json, "top1")));
        assertEquals(500, Long.parseLong(field(json, "count")));
    }

    @Test
    void trainSplitHonoursAnExplicitLimit() throws Exception {
        LoadedCheckpoint ckpt = LoadedCheckpoint.read(checkpoint.toString(), null, List.of("train_limit=300", "workers=2"), hadoop());
        EvaluateJob.Result r = EvaluateJob.run(LocalSpark.get(), ckpt, "train", run.resolve("eval-train").toString(), SparkJobTest.QUIET);
        assertEquals(300, r.stats().count());
        assertEquals("\"train\"", field(Files.readString(run.resolve("eval-train/evaluation.json")), "split"));
    }

    @Test
    void aMissingCheckpointIsNamed() {
        String missing = run.resolve("no-such-run/checkpoint.ckpt").toString();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LoadedCheckpoint.read(missing, null, List.of(), hadoop()));
        assertTrue(e.getMessage().contains(missing), e.getMessage());
    }

    @Test
    void aRecipeForAnotherModelIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LoadedCheckpoint.read(checkpoint.toString(), null, List.of("variant=cnn"), hadoop()));
        assertTrue(e.getMessage().contains("lenet5bn_adder") && e.getMessage().contains("lenet5bn_cnn"), e.getMessage());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> LoadedCheckpoint.read(checkpoint.toString(), null, List.of("epochz=3"), hadoop()));
        assertTrue(unknown.getMessage().contains("unknown config key 'epochz'"), unknown.getMessage());
    }

    @Test
    void manyClassesShowOnlyTheWorstTen() {
        int k = 30;
        long[] count = new long[k], hits = new long[k];
        long n = 0, top1 = 0;
        for (int c = 0; c < k; c++) {
            count[c] = 10;
            hits[c] = (c * 7) % 11; // class 0 and 11 have 0 hits, class 19 has 1, ...
            n += count[c];
            top1 += hits[c];
        }
        EvalStats s = EvalStats.of(k, n, top1, n, 1.5 * n, count, hits, new long[k * k]);
        String text = EvaluateJob.summary(new EvaluateJob.Result(s, "x.ckpt", "m", "d", "test", 1, 0, "out"));
        assertTrue(text.contains("the 10 worst of 30 classes"), text);
        assertFalse(text.contains("confusion matrix"), text);
        int[] worst = EvaluateJob.worstFirst(s, 10);
        assertArrayEquals(new int[] {0, 11, 22, 8, 19, 5, 16, 27, 2, 13}, worst);
        assertEquals(4 + 10, text.lines().count(), text);
        // One row per class, hits (7c mod 11) of 10: class 0 has none, class 19 one (133 = 12*11 + 1), class 3 ten.
        List<String> csv = EvaluateJob.perClassCsv(s).lines().toList();
        assertEquals(1 + k, csv.size());
        assertEquals("class,count,correct,accuracy", csv.get(0));
        assertEquals("0,10,0,0.0", csv.get(1));
        assertEquals("19,10,1,0.1", csv.get(20));
        assertEquals("3,10,10,1.0", csv.get(4));
    }

    static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":(\"[^\"]*\"|[^,}\\]]+)").matcher(json);
        assertTrue(m.find(), name + " in " + json);
        return m.group(1);
    }
}
