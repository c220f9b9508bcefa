package org.addernet.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import org.addernet.data.Samples;
import org.addernet.engine.Tensor;
import org.addernet.train.Recipe;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.DataFrameWriter;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;

/**
 * {@code addernet predict}: batch inference of a checkpoint over a stored split, written with Spark SQL as Parquet
 * ({@code id, label, top5_classes array<int>, top5_probs array<float>}) or CSV (the arrays flattened to
 * {@code class1..class5, prob1..prob5}), with the image's {@code path} after {@code label} for datasets of image
 * files. {@code id} is the sample's index in the split ({@link Samples#id}),
 * probabilities are the softmax of the eval-mode logits, in descending order (ties: lower class first, as
 * {@link org.addernet.train.EvalStats} ranks them).
 *
 * <p>The split is cached as {@link SparkData} and the weights broadcast once; partition p holds the contiguous
 * block of ids {@code [p*n/W, (p+1)*n/W)} (not the strided shards of training: contiguous blocks make the output
 * part files sorted by id, file after file, without a shuffle of the results) and computes its logits batch by
 * batch with the engine, one model per task, never per row.
 */
public final class PredictJob {
    /** How many classes each row ranks (fewer if the dataset has fewer). */
    public static final int TOP = 5;

    public record Result(long rows, String outDir, String format, int workers) {}

    private PredictJob() {}

    /**
     * Parquet: {@code id, label, [path,] top5_classes, top5_probs}; CSV ({@code flat}): {@code id, label, [path,]
     * class1..k, prob1..k}. {@code path} (the image file) only for datasets of image files.
     */
    public static StructType schema(boolean flat, int k, boolean paths) {
        List<StructField> f = new ArrayList<>();
        f.add(DataTypes.createStructField("id", DataTypes.IntegerType, false));
        // Nullable: an unlabeled split (e.g. a competition test set) would leave it empty.
        f.add(DataTypes.createStructField("label", DataTypes.IntegerType, true));
        if (paths) f.add(DataTypes.createStructField("path", DataTypes.StringType, false));
        if (flat) {
            for (int r = 1; r <= k; r++) f.add(DataTypes.createStructField("class" + r, DataTypes.IntegerType, false));
            for (int r = 1; r <= k; r++) f.add(DataTypes.createStructField("prob" + r, DataTypes.FloatType, false));
        } else {
            f.add(DataTypes.createStructField("top5_classes", DataTypes.createArrayType(DataTypes.IntegerType, false), false));
            f.add(DataTypes.createStructField("top5_probs", DataTypes.createArrayType(DataTypes.FloatType, false), false));
        }
        return DataTypes.createStructType(f);
    }

    public static Result run(SparkSession spark, LoadedCheckpoint ckpt, String split, String out, String format, PrintStream log)
            throws IOException {
        boolean csv = switch (format) {
            case "parquet" -> false;
            case "csv" -> true;
            default -> throw new IllegalArgumentException("--format must be parquet or csv, got '" + format + "'");
        };
        long start = System.nanoTime();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        checkOutput(jsc.hadoopConfiguration(), out, ckpt.path);
        Recipe recipe = ckpt.recipe;
        int workers = recipe.workers > 0 ? recipe.workers : jsc.defaultParallelism();
        int taskCpus = Integer.parseInt(jsc.getConf().get("spark.task.cpus", "1"));
        int k = Math.min(TOP, ckpt.classes);
        long n;
        LongAccumulator written = jsc.sc().longAccumulator("predicted rows");
        try (SparkData data = ckpt.data(spark, split, workers, true, log)) {
            n = data.count();
            Settings settings = new Settings(ckpt.spec(taskCpus), SparkData.SampleSettings.of(recipe, ckpt.classes), data.cacheKey,
                    recipe.evalBatchSize, k, csv, recipe.images);
            jsc.setJobDescription(String.format(Locale.ROOT, "predict %s on %d %s %s samples in %d partitions -> %s", ckpt.modelName,
                    n, recipe.spec.name(), split, workers, out));
            Broadcast<Weights> weights = jsc.broadcast(ckpt.weights);
            try {
                JavaRDD<Row> rows = data.shards.mapPartitionsWithIndex(new PredictTask(settings, weights, written), true);
                DataFrameWriter<Row> writer = spark.createDataFrame(rows, schema(csv, k, recipe.images)).write().mode(SaveMode.Overwrite);
                if (csv) writer.option("header", "true").csv(out);
                else writer.parquet(out);
            } finally {
                weights.destroy();
            }
        }
        if (written.value() != n) throw new IllegalStateException("wrote " + written.value() + " predictions for " + n + " samples");
        log.printf(Locale.ROOT, "predict: %s (%s) on %s %s: wrote %d rows (%s, %d part files, sorted by id) to %s (%.1f s)%n",
                ckpt.modelName, ckpt.path, recipe.spec.name(), split, n, csv ? "csv" : "parquet", workers, out, (System.nanoTime() - start) / 1e9);
        return new Result(n, out, csv ? "csv" : "parquet", workers);
    }

    /**
     * Overwriting deletes the whole folder first, so refuse one that holds anything but an earlier Spark output
     * (part files, {@code _SUCCESS}, hidden checksums), and the checkpoint's own folder.
     */
    static void checkOutput(Configuration hadoop, String out, String checkpoint) throws IOException {
        Path o = new Path(out);
        FileSystem fs = o.getFileSystem(hadoop);
        Path dir = fs.makeQualified(o);
        Path ck = new Path(checkpoint);
        Path ckq = ck.getFileSystem(hadoop).makeQualified(ck);
        for (Path p = ckq; p != null; p = p.getParent()) {
            if (p.equals(dir)) throw new IllegalArgumentException("--out " + out + " holds the checkpoint " + checkpoint + " and would be overwritten");
        }
        if (!fs.exists(dir)) return;
        if (!fs.getFileStatus(dir).isDirectory()) throw new IllegalArgumentException("--out " + out + " is a file, not a folder");
        for (FileStatus s : fs.listStatus(dir)) {
            String name = s.getPath().getName();
            if (!name.startsWith("part-") && !name.startsWith("_") && !name.startsWith(".")) {
                throw new IllegalArgumentException("refusing to overwrite " + out + ": it holds " + name
                        + ", not only an earlier prediction; choose a new or empty folder");
            }
        }
    }

    /** What a task needs besides the broadcast weights; small and serializable. */
    record Settings(ModelSpec model, SparkData.SampleSettings data, String cacheKey, int batch, int k, boolean flat, boolean paths)
            implements Serializable {}

    /** Predicts samples {@code [from, from + batch)} of a block into {@code rows}; returns the next sample. */
    interface BatchPredictor {
        int predict(Samples block, int from, List<Row> rows);
    }

    /** The rows of {@code block}, predicted one batch at a time as the writer consumes them (a partition never sits in memory). */
    static Iterator<Row> batched(Samples block, BatchPredictor predictor) {
        return new Iterator<>() {
            final List<Row> batch = new ArrayList<>();
            int next = 0, pos = 0;

            @Override
            public boolean hasNext() {
                return pos < batch.size() || next < block.count();
            }

            @Override
            public Row next() {
                if (pos == batch.size()) {
                    if (next >= block.count()) throw new NoSuchElementException();
                    batch.clear();
                    pos = 0;
                    next = predictor.predict(block, next, batch);
                }
                return batch.get(pos++);
            }
        };
    }

    /** Partition p's block of the split, as rows, computed one batch at a time as the writer consumes them. */
    static final class PredictTask implements Function2<Integer, Iterator<Object>, Iterator<Row>> {
        final Settings settings;
        final Broadcast<Weights> weights;
        final LongAccumulator written;

        PredictTask(Settings settings, Broadcast<Weights> weights, LongAccumulator written) {
            this.settings = settings;
            this.weights = weights;
            this.written = written;
        }

        @Override
        public Iterator<Row> call(Integer partition, Iterator<Object> part) {
            Samples block = settings.data().samples(part, partition, settings.cacheKey(), false);
            return PredictJob.batched(block, this::predict);
        }

        /** Rows of samples {@code [from, from + batch)} of the block into {@code rows}; returns the next sample. */
        int predict(Samples block, int from, List<Row> rows) {
            int n = Math.min(settings.batch(), block.count() - from), k = settings.k();
            int[] y = new int[n];
            float[] logits = logits(block, from, n, settings.model(), weights.value(), y);
            int classes = logits.length / n;
            int[] cls = new int[k];
            float[] prob = new float[k];
            int lead = settings.paths() ? 3 : 2;
            for (int i = 0; i < n; i++) {
                topK(logits, i * classes, classes, cls, prob);
                Object[] v = new Object[lead + (settings.flat() ? 2 * k : 2)];
                v[0] = block.id(from + i);
                v[1] = y[i];
                if (settings.paths()) v[2] = block.source(from + i);
                if (settings.flat()) {
                    for (int r = 0; r < k; r++) {
                        v[lead + r] = cls[r];
                        v[lead + k + r] = prob[r];
                    }
                } else {
                    v[lead] = cls.clone();
                    v[lead + 1] = prob.clone();
                }
                rows.add(RowFactory.create(v));
            }
            written.add(n);
            return from + n;
        }
    }

    /**
     * Eval-mode logits of samples {@code [from, from + n)} of {@code block} (n x classes, copied out of the model),
     * their labels into {@code y}. The worker is borrowed per batch: cheap (a queue poll, weights cached by
     * version), and nothing leaks if the consumer stops early.
     */
    static float[] logits(Samples block, int from, int n, ModelSpec spec, Weights weights, int[] y) {
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = from + i;
        int[] shape = block.shape();
        float[] x = new float[n * block.sampleSize()];
        WorkerPool.Worker w = WorkerPool.borrow(spec);
        try {
            w.load(weights);
            block.fill(0, idx, 0, n, x, y, w.engine.pool());
            Tensor out = w.model.forward(new Tensor(n, shape[0], shape[1], shape[2], x), false);
            return java.util.Arrays.copyOf(out.data, n * out.perSample());
        } finally {
            WorkerPool.giveBack(w);
        }
    }

    /**
     * The {@code cls.length} largest of {@code z[base .. base+classes)} in descending order (ties: lower class
     * first) with their softmax probabilities over all classes (computed in double, shifted by the maximum).
     */
    static void topK(float[] z, int base, int classes, int[] cls, float[] prob) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < classes; j++) max = Math.max(max, z[base + j]);
        double sum = 0;
        for (int j = 0; j < classes; j++) sum += Math.exp((double) z[base + j] - max);
        int prev = -1;
        for (int r = 0; r < cls.length; r++) {
            // The best class ranked after the previous pick: k passes over the logits, no sort, no allocation.
            int best = -1;
            for (int j = 0; j < classes; j++) {
                if (prev >= 0 && !ranksBefore(z[base + prev], prev, z[base + j], j)) continue;
                if (best < 0 || ranksBefore(z[base + j], j, z[base + best], best)) best = j;
            }
            cls[r] = best;
            prob[r] = (float) (Math.exp((double) z[base + best] - max) / sum);
            prev = best;
        }
    }

    private static boolean ranksBefore(float a, int i, float b, int j) {
        return a > b || (a == b && i < j);
    }
}
