package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.addernet.data.DataFormatException;
import org.addernet.data.SyntheticImageNet;
import org.addernet.train.Config;
import org.addernet.train.Recipe;
import org.addernet.train.RunFiles;
import org.addernet.train.SingleProcess;
import org.addernet.train.Trainer;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ImageNet-scale input end to end on a small synthetic ImageFolder tree (ResNet-18 at 64x64): the Spark job reads the
 * folder or its prepared Parquet shards to the same weights bit for bit, equals the single-process trainer emulating
 * the same workers, reports and skips a truncated file under {@code max_bad_images} and fails naming it otherwise;
 * evaluate and predict read the same data.
 */
class ImageNetJobTest {
    static final int CLASSES = 3, TRAIN_PER_CLASS = 8, VAL_PER_CLASS = 3;

    @TempDir
    static Path tmp;
    static Path root, bad;

    @BeforeAll
    static void dataset() throws Exception {
        root = tmp.resolve("imagenet");
        SyntheticImageNet.generate(root, CLASSES, TRAIN_PER_CLASS, VAL_PER_CLASS, 3);
        // A truncated copy of a real image: decodes partly, so only a full decode finds it.
        List<Path> some;
        try (var s = Files.list(root.resolve("train").resolve(Files.list(root.resolve("train")).sorted().toList().get(1).getFileName()))) {
            some = s.sorted().toList();
        }
        byte[] whole = Files.readAllBytes(some.get(0));
        bad = some.get(0).resolveSibling("zz_truncated.JPEG");
        Files.write(bad, Arrays.copyOf(whole, whole.length / 2));
    }

    static Recipe recipe(String... overrides) {
        List<String> o = new ArrayList<>(List.of("model=resnet18", "dataset=imagenet", "data_dir=" + root, "image_size=64",
                "eval_resize=73", "batch_size=8", "eval_batch_size=5", "lr=0.05", "weight_decay=1e-4", "threads=1", "log_every=1000",
                "seed=11", "epochs=1", "max_bad_images=1", "workers=2"));
        o.addAll(List.of(overrides));
        return new Recipe(Config.load(null, o));
    }

    static float[] train(Recipe r, Path out, ByteArrayOutputStream log) throws Exception {
        try (SparkJob job = new SparkJob(r, LocalSpark.get(), out.toString(), new PrintStream(log, true, StandardCharsets.UTF_8))) {
            Trainer.EpochMetrics m = job.trainer().run();
            assertTrue(Double.isFinite(m.trainLoss()), "loss " + m.trainLoss());
            return job.trainer().model().params().data.clone();
        }
    }


    static final int BUCKETS = 8;
    private static Path prepared;

    /** The tree prepared once into {@link #BUCKETS} buckets, its layout checked against the listing. */
    static synchronized Path prepared() throws Exception {
        if (prepared != null) return prepared;
        Path out = tmp.resolve("prepared");
        PrepareJob.Result p = PrepareJob.run(LocalSpark.get(), root.toString(), out.toString(), BUCKETS, 1, SparkJobTest.QUIET);
        assertEquals(24, p.train());
        assertEquals(9, p.val());
        assertEquals(1, p.rejected().size());
        assertTrue(p.rejected().get(0).contains("zz_truncated.JPEG"), p.rejected().toString());
        List<Row> rows = LocalSpark.get().read().parquet(out.resolve("train").toString()).collectAsList();
        assertEquals(24, rows.size());
        List<String> files = trainFiles();
        for (Row r : rows) {
            int id = r.getInt(0);
            assertEquals(files.get(id), r.getString(2), "id " + id + " is the file's ImageFolder number");
            assertEquals(id % BUCKETS, r.getInt(r.fieldIndex("bucket")), "bucket of id " + id);
            assertArrayEquals(Files.readAllBytes(Path.of(new java.net.URI(r.getString(2)))), (byte[]) r.get(3), "bytes of " + r.getString(2));
        }
        // One folder per bucket that holds images, each listed in prepared.json with its size.
        PreparedLayout layout = PreparedLayout.read(new org.apache.hadoop.conf.Configuration(), out.toString());
        assertEquals(BUCKETS, layout.buckets());
        long[] perBucket = new long[BUCKETS];
        for (int id = 0; id < files.size(); id++) if (!files.get(id).endsWith("zz_truncated.JPEG")) perBucket[id % BUCKETS]++;
        for (PreparedLayout.Bucket b : layout.splits().get("train").buckets()) {
            assertEquals(perBucket[b.bucket()], b.images(), "images of bucket " + b.bucket());
            for (PreparedLayout.FileEntry f : b.files()) {
                assertTrue(f.name().startsWith("bucket=" + b.bucket() + "/"), f.name());
                assertEquals(Files.size(out.resolve("train").resolve(f.name())), f.bytes(), f.name());
            }
        }
        prepared = out;
        return out;
    }

    /** The training files in ImageFolder order (class folders sorted, files sorted by path): index = id. */
    static List<String> trainFiles() throws Exception {
        List<String> all = new ArrayList<>();
        try (var classes = Files.list(root.resolve("train"))) {
            for (Path c : classes.sorted().toList()) {
                try (var f = Files.list(c)) {
                    for (Path p : f.sorted().toList()) all.add(p.toUri().toString().replace("file:///", "file:/"));
                }
            }
        }
        return all;
    }

    @Test
    void imageFolderParquetAndSingleProcessTrainTheSameWeights() throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        float[] folder = train(recipe(), tmp.resolve("run-folder"), log);
        String text = log.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("skipping unreadable image file:" + bad), "the truncated file is reported by path:\n" + text);
        assertTrue(text.contains("24 of 25 listed train images read, decoded and shuffled into 2 local shards"), text);
        assertEquals(List.of("n00000000", "n00000001", "n00000002"), Files.readAllLines(tmp.resolve("run-folder/classes.txt")));

        Path prepared = prepared();
        float[] parquet = train(recipe("data_dir=" + prepared), tmp.resolve("run-parquet"), new ByteArrayOutputStream());
        assertArrayEquals(folder, parquet, "ImageFolder and its Parquet shards give the same run");

        Recipe single = recipe("emulate_workers=2");
        try (SingleProcess run = new SingleProcess(single, RunFiles.local(tmp.resolve("run-single")), SparkJobTest.QUIET)) {
            run.trainer().run();
            assertArrayEquals(folder, run.trainer().model().params().data, "Spark W=2 equals the single process emulating 2 workers");
        }

        // Evaluate and predict read the val split of the same tree with the checkpoint's recipe.
        LoadedCheckpoint ckpt = LoadedCheckpoint.read(tmp.resolve("run-folder").toString(), null, List.of(), new org.apache.hadoop.conf.Configuration());
        EvaluateJob.Result ev = EvaluateJob.run(LocalSpark.get(), ckpt, "test", tmp.resolve("eval").toString(), SparkJobTest.QUIET);
        assertEquals(9, ev.stats().count());
        PredictJob.run(LocalSpark.get(), ckpt, "test", tmp.resolve("pred").toString(), "parquet", SparkJobTest.QUIET);
        List<Row> pred = LocalSpark.get().read().parquet(tmp.resolve("pred").toString()).orderBy("id").collectAsList();
        assertEquals(9, pred.size());
        for (int i = 0; i < 9; i++) {
            Row r = pred.get(i);
            assertEquals(i, r.getInt(0));
            assertEquals(i / VAL_PER_CLASS, r.getInt(1));
            assertTrue(r.getString(2).contains("/val/n0000000" + (i / VAL_PER_CLASS) + "/"), r.getString(2));
        }
    }

    @Test
    void tooManyUnreadableImagesFailNamingThem() {
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> train(recipe("max_bad_images=0"), tmp.resolve("run-strict"), new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("zz_truncated.JPEG"), e.getMessage());
        assertTrue(e.getMessage().contains("max_bad_images=0"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("run-strict/checkpoint.ckpt")));
    }
}
