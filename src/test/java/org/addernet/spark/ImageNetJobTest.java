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
        String line = text.lines().filter(l -> l.contains("skipping unreadable image")).findFirst().orElseThrow();
        assertEquals(line.indexOf(bad.toString()), line.lastIndexOf(bad.toString()), "the path is named once: " + line);
        assertTrue(text.contains("24 of 25 listed train images read, decoded and shuffled into 2 local shards"), text);
        assertTrue(text.contains("staging train images: 25 of 25 images"), "staging progress is logged:\n" + text);
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

    /** Sums the shuffle bytes every task wrote, and remembers the sum when the first training step's job starts. */
    static final class ShuffleUntilFirstStep extends org.apache.spark.scheduler.SparkListener {
        final java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong atFirstStep = new java.util.concurrent.atomic.AtomicLong(-1);

        @Override
        public void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart e) {
            String d = e.properties() == null ? null : e.properties().getProperty("spark.job.description");
            if (d != null && d.startsWith("epoch 1/") && d.contains(" step 1/")) atFirstStep.compareAndSet(-1, written.get());
        }

        @Override
        public void onTaskEnd(org.apache.spark.scheduler.SparkListenerTaskEnd e) {
            if (e.taskMetrics() != null) written.addAndGet(e.taskMetrics().shuffleWriteMetrics().bytesWritten());
        }
    }

    static long shuffleBeforeFirstStep(Recipe r, Path out, float[][] weights) throws Exception {
        ShuffleUntilFirstStep l = new ShuffleUntilFirstStep();
        LocalSpark.get().sparkContext().addSparkListener(l);
        try {
            weights[0] = train(r, out, new ByteArrayOutputStream());
            LocalSpark.get().sparkContext().listenerBus().waitUntilEmpty();
        } finally {
            LocalSpark.get().sparkContext().removeSparkListener(l);
        }
        assertTrue(l.atFirstStep.get() >= 0, "saw the first step's job");
        return l.atFirstStep.get();
    }

    @Test
    void threeWorkersOnBucketsEqualTheImageFolderAndTheSingleProcessWithoutAShuffleAndWithinAMemoryBudget() throws Exception {
        Path prep = prepared();
        // W = 3 does not divide B = 8: shards of unequal sizes, (id % 8) % 3. A budget of 0.05 MiB holds a few images, less
        // than one shard.
        double budgetMb = 0.05;
        long shardBytes = 0;
        for (int p = 0; p < 3; p++) {
            long b = 0;
            List<String> files = trainFiles();
            for (int id = 0; id < files.size(); id++) {
                if ((id % BUCKETS) % 3 == p && !files.get(id).endsWith("zz_truncated.JPEG")) b += Files.size(Path.of(new java.net.URI(files.get(id))));
            }
            shardBytes = shardBytes == 0 ? b : Math.min(shardBytes, b);
        }
        assertTrue(shardBytes > budgetMb * (1 << 20), "the budget is smaller than every shard: " + shardBytes + " bytes");
        float[][] w = new float[1][];
        org.addernet.data.LocalShard.resetPeak();
        long prepShuffle = shuffleBeforeFirstStep(recipe("data_dir=" + prep, "workers=3", "batch_size=6", "image_memory_mb=" + budgetMb),
                tmp.resolve("run-buckets-3"), w);
        float[] bucketed = w[0];
        assertEquals(0, prepShuffle, "no shuffle bytes before the first step from prepared data");
        long held = org.addernet.data.LocalShard.peakCachedBytes();
        assertTrue(held > 0 && held <= budgetMb * (1 << 20), "the record cache was used and stayed within its budget: " + held);

        long folderShuffle = shuffleBeforeFirstStep(recipe("workers=3", "batch_size=6", "buckets=8"), tmp.resolve("run-folder-3"), w);
        assertTrue(folderShuffle > 0, "the ImageFolder input shuffles once (the listener sees it): " + folderShuffle);
        assertArrayEquals(w[0], bucketed, "buckets (B=8, W=3, bounded memory) and the ImageFolder tree (buckets=8) give the same run");

        try (SingleProcess run = new SingleProcess(recipe("emulate_workers=3", "batch_size=6", "buckets=8"), RunFiles.local(tmp.resolve("run-single-3")),
                SparkJobTest.QUIET)) {
            run.trainer().run();
            assertArrayEquals(bucketed, run.trainer().model().params().data, "the single process emulating 3 workers gives the same run");
        }

        // evaluate reads the prepared val split (whose buckets hold all 9 images) with the checkpoint's recipe.
        LoadedCheckpoint ckpt = LoadedCheckpoint.read(tmp.resolve("run-buckets-3").toString(), null, List.of(),
                new org.apache.hadoop.conf.Configuration());
        assertEquals(9, EvaluateJob.run(LocalSpark.get(), ckpt, "test", tmp.resolve("eval-buckets").toString(), SparkJobTest.QUIET).stats().count());
    }

    @Test
    void oneTwoAndThreeWorkersReadTheSamePreparedBuckets() throws Exception {
        Recipe r = recipe("data_dir=" + prepared());
        List<String> classes = SparkData.imageClasses(new org.apache.hadoop.conf.Configuration(), r);
        List<String> files = trainFiles();
        for (int workers = 1; workers <= 3; workers++) {
            try (SparkData d = SparkData.of(LocalSpark.get(), r, true, classes, workers, false, SparkJobTest.QUIET)) {
                List<Object> shards = d.shards.collect();
                assertEquals(workers, shards.size());
                for (int p = 0; p < workers; p++) {
                    org.addernet.data.LocalShard s = (org.addernet.data.LocalShard) shards.get(p);
                    List<Integer> want = new ArrayList<>();
                    for (int id = 0; id < files.size(); id++) {
                        if ((id % BUCKETS) % workers == p && !files.get(id).endsWith("zz_truncated.JPEG")) want.add(id);
                    }
                    assertArrayEquals(want.stream().mapToInt(Integer::intValue).toArray(), s.ids(), "ids of shard " + p + " of " + workers);
                    assertEquals(want.size(), d.shardSizes[p]);
                    if (workers == 3) {
                        // An index that reached an executor without its file (a task placed away from its shard) is rebuilt
                        // there from its bucket files, the bytes at new offsets.
                        org.addernet.data.LocalShard away = s.withFile(tmp.resolve("elsewhere.bin").toString(), s.offsets());
                        org.addernet.data.LocalShard here = LocalShards.local(away, "rebuild-test", p);
                        assertFalse(here.file().equals(s.file()));
                        for (int i = 0; i < s.count(); i++) {
                            org.addernet.data.CompressedImages.Bytes a = s.bytes(i), b = here.bytes(i);
                            assertArrayEquals(Arrays.copyOfRange(a.data(), a.offset(), a.offset() + a.length()),
                                    Arrays.copyOfRange(b.data(), b.offset(), b.offset() + b.length()), "rebuilt bytes of " + s.path(i));
                        }
                        LocalShards.drop("rebuild-test");
                        assertFalse(Files.exists(Path.of(here.file())), "drop deletes the rebuilt file");
                    }
                    for (int i = 0; i < s.count(); i++) {
                        assertEquals(files.get(s.id(i)), s.path(i));
                        org.addernet.data.CompressedImages.Bytes b = s.bytes(i);
                        assertArrayEquals(Files.readAllBytes(Path.of(new java.net.URI(s.path(i)))),
                                Arrays.copyOfRange(b.data(), b.offset(), b.offset() + b.length()), "bytes of " + s.path(i));
                    }
                }
            }
        }
        IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class,
                () -> SparkData.of(LocalSpark.get(), r, true, classes, BUCKETS + 1, false, SparkJobTest.QUIET));
        assertTrue(tooMany.getMessage().contains("9 workers for the 8 buckets"), tooMany.getMessage());
    }

    static Path copyOfPrepared(String name) throws Exception {
        Path copy = tmp.resolve(name);
        Path src = prepared();
        try (var all = Files.walk(src)) {
            for (Path p : all.toList()) {
                Path d = copy.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(d);
                else Files.copy(p, d);
            }
        }
        return copy;
    }

    @Test
    void verifyImagesDecodesThePreparedImagesAgain() throws Exception {
        Path v = copyOfPrepared("prepared-verify");
        org.apache.hadoop.conf.Configuration hadoop = new org.apache.hadoop.conf.Configuration();
        PreparedLayout layout = PreparedLayout.read(hadoop, v.toString());
        // Bucket 3's file rewritten with its first image cut in half, and recorded with its new size: only a decode finds it.
        PreparedLayout.Bucket b3 = layout.splits().get("train").buckets().get(3);
        Path file = v.resolve("train").resolve(b3.files().get(0).name());
        List<Row> rows = new ArrayList<>();
        String[] cutPath = new String[1];
        LocalShards.readBucket(hadoop, file.toString(), (id, label, path, bytes) -> {
            if (cutPath[0] == null) cutPath[0] = path;
            rows.add(org.apache.spark.sql.RowFactory.create(id, label, path, path.equals(cutPath[0]) ? Arrays.copyOf(bytes, bytes.length / 2) : bytes));
        });
        Path rewritten = tmp.resolve("bucket3-rewritten");
        LocalSpark.get().createDataFrame(rows, PrepareJob.schema()).coalesce(1).write().parquet(rewritten.toString());
        Path part;
        try (var f = Files.list(rewritten)) {
            part = f.filter(p -> p.getFileName().toString().endsWith(".parquet")).findFirst().orElseThrow();
        }
        Files.move(part, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.deleteIfExists(file.resolveSibling("." + file.getFileName() + ".crc"));
        java.util.Map<String, PreparedLayout.Split> splits = new java.util.LinkedHashMap<>(layout.splits());
        List<PreparedLayout.Bucket> buckets = new ArrayList<>(splits.get("train").buckets());
        buckets.set(3, new PreparedLayout.Bucket(3, b3.images(), List.of(new PreparedLayout.FileEntry(b3.files().get(0).name(), Files.size(file)))));
        splits.put("train", new PreparedLayout.Split(splits.get("train").images(), splits.get("train").bytes(), buckets));
        Files.deleteIfExists(v.resolve("." + PrepareJob.MARKER + ".crc"));
        Files.writeString(v.resolve(PrepareJob.MARKER), new PreparedLayout(layout.format(), layout.version(), layout.source(), layout.buckets(),
                layout.classes(), splits, layout.rejected()).toJson());

        List<String> classes = layout.classes();
        try (SparkData d = SparkData.of(LocalSpark.get(), recipe("data_dir=" + v, "max_bad_images=0"), true, classes, 2, false, SparkJobTest.QUIET)) {
            assertEquals(24, d.count(), "without verify_images the recorded layout is trusted");
        }
        DataFormatException e = assertThrows(DataFormatException.class, () -> SparkData.of(LocalSpark.get(),
                recipe("data_dir=" + v, "max_bad_images=0", "verify_images=true"), true, classes, 2, false, SparkJobTest.QUIET));
        assertTrue(e.getMessage().contains(cutPath[0]) && e.getMessage().contains("max_bad_images=0"), e.getMessage());
        try (SparkData d = SparkData.of(LocalSpark.get(), recipe("data_dir=" + v, "max_bad_images=1", "verify_images=true"), true, classes, 2, false,
                SparkJobTest.QUIET)) {
            assertEquals(23, d.count(), "verify_images skips the image that does not decode, under max_bad_images");
        }
    }

    @Test
    void aMissingOrTruncatedBucketFileAndAnOldLayoutAreReportedByPath() throws Exception {
        Path broken = copyOfPrepared("prepared-broken");
        PreparedLayout layout = PreparedLayout.read(new org.apache.hadoop.conf.Configuration(), broken.toString());
        List<PreparedLayout.Bucket> train = layout.splits().get("train").buckets();
        Path gone = broken.resolve("train").resolve(train.get(1).files().get(0).name());
        Path cut = broken.resolve("train").resolve(train.get(2).files().get(0).name());
        Files.delete(gone);
        byte[] whole = Files.readAllBytes(cut);
        Files.write(cut, Arrays.copyOf(whole, whole.length - 10));
        Recipe r = recipe("data_dir=" + broken);
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> SparkData.of(LocalSpark.get(), r, true, List.of("a", "b", "c"), 2, false, SparkJobTest.QUIET));
        assertTrue(e.getMessage().contains(gone.getFileName().toString()) && e.getMessage().contains("missing"), e.getMessage());
        assertTrue(e.getMessage().contains(cut.getFileName().toString()) && e.getMessage().contains("truncated"), e.getMessage());
        assertTrue(e.getMessage().contains("bucket=1/") && e.getMessage().contains("bucket=2/"), e.getMessage());

        // A prepared.json from before buckets: re-run prepare.
        Files.deleteIfExists(broken.resolve("." + PrepareJob.MARKER + ".crc"));
        Files.writeString(broken.resolve(PrepareJob.MARKER), "{\"source\":\"x\",\"classes\":3,\"train\":24,\"val\":9,\"seed\":7,\"rejected\":[]}\n");
        DataFormatException old = assertThrows(DataFormatException.class,
                () -> SparkData.imageClasses(new org.apache.hadoop.conf.Configuration(), r));
        assertTrue(old.getMessage().contains("re-run addernet prepare") && old.getMessage().contains(PrepareJob.MARKER), old.getMessage());
    }

    @Test
    void tooManyUnreadableImagesFailNamingThem() {
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> train(recipe("max_bad_images=0"), tmp.resolve("run-strict"), new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("zz_truncated.JPEG"), e.getMessage());
        assertTrue(e.getMessage().contains("max_bad_images=0"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("run-strict/checkpoints")));
    }
}
