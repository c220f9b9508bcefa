package org.addernet.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.util.Locale;
import org.addernet.train.EvalStats;
import org.addernet.train.Recipe;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * {@code addernet evaluate}: a checkpoint's eval-mode loss, top-1/top-5, per-class accuracy and confusion matrix
 * over a stored split, as a Spark job. The split is cached in W shards as the training job does ({@link SparkData});
 * the weights are broadcast once; each task runs
 * {@link org.addernet.train.SingleProcess#evaluate} on its shard (the training job's {@code EvalTask}) and the
 * {@link EvalStats} are summed in partition order ({@link OrderedTreeReduce}), so the counts are exactly those
 * of one process over the whole split.
 *
 * <p>Files written atomically ({@link FsStore}) to the output folder: {@code evaluation.json} (every number),
 * {@code per_class.csv}, and {@code confusion.csv} for up to {@link EvalStats#MAX_CONFUSION_CLASSES} classes.
 */
public final class EvaluateJob {
    /** Above this many classes the console shows only the worst classes and no matrix (the files hold everything). */
    static final int CONSOLE_CLASSES = 20;
    static final int WORST_SHOWN = 10;

    /** The merged counts and where they came from. */
    public record Result(EvalStats stats, String checkpoint, String model, String dataset, String split, int workers,
                         long optimizerSteps, String outDir) {}

    private EvaluateJob() {}

    /** Default output folder: {@code evaluation/} next to the checkpoint (in the run folder for a run's {@code checkpoints/}) ({@code evaluation-train/} for the training split). */
    public static String defaultOut(LoadedCheckpoint ckpt, String split) {
        Path parent = new Path(ckpt.path).getParent();
        // A run's versioned checkpoint (run/checkpoints/ckpt-*.ckpt): the evaluation goes into the run folder.
        if (parent.getName().equals(org.addernet.train.Checkpoints.FOLDER) && parent.getParent() != null) parent = parent.getParent();
        String name = LoadedCheckpoint.isTrain(split) ? "evaluation-train" : "evaluation";
        return parent == null ? name : new Path(parent, name).toString();
    }

    /** Evaluates, writes the files to {@code out} (null: {@link #defaultOut}) and prints the summary to {@code log}. */
    public static Result run(SparkSession spark, LoadedCheckpoint ckpt, String split, String out, PrintStream log) throws IOException {
        long start = System.nanoTime();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Recipe recipe = ckpt.recipe;
        int workers = recipe.workers > 0 ? recipe.workers : jsc.defaultParallelism();
        int taskCpus = Integer.parseInt(jsc.getConf().get("spark.task.cpus", "1"));
        String outDir = out != null ? out : defaultOut(ckpt, split);
        EvalStats stats;
        long count;
        try (SparkData data = ckpt.data(spark, split, workers, false, log)) {
            count = data.count();
            // Only the model, the data and the eval batch size matter to EvalTask; the training fields stay empty.
            SparkJob.Shared shared = new SparkJob.Shared(ckpt.spec(taskCpus), SparkData.SampleSettings.of(recipe, ckpt.classes),
                    data.shardSizes, data.cacheKey, data.cacheKey, 0, 0, recipe.evalBatchSize);
            jsc.setJobDescription(String.format(Locale.ROOT, "evaluate %s on %d %s %s samples in %d partitions", ckpt.modelName,
                    count, recipe.spec.name(), split, workers));
            Broadcast<Weights> weights = jsc.broadcast(ckpt.weights);
            try {
                stats = OrderedTreeReduce.reduce(data.shards.mapPartitionsWithIndex(new SparkJob.EvalTask(shared, weights), true)
                        .mapToPair(t -> t), workers, recipe.config.getInt("tree_depth"), EvalStats::merge);
            } catch (Exception e) {
                throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
            } finally {
                weights.destroy();
            }
        }
        if (stats.count() != count) {
            throw new IllegalStateException("evaluated " + stats.count() + " samples, the split has " + count);
        }
        Result r = new Result(stats, ckpt.path, ckpt.modelName, recipe.spec.name(), split, workers, ckpt.optimizerSteps(), outDir);
        FsStore files = new FsStore(jsc.hadoopConfiguration(), outDir);
        files.writeText("evaluation.json", json(r));
        files.writeText("per_class.csv", perClassCsv(stats));
        if (stats.confusion() != null) files.writeText("confusion.csv", confusionCsv(stats));
        log.print(summary(r));
        log.printf(Locale.ROOT, "wrote evaluation.json, per_class.csv%s to %s (%.1f s)%n", stats.confusion() != null ? ", confusion.csv" : "",
                outDir, (System.nanoTime() - start) / 1e9);
        return r;
    }

    /** The console report: totals, the per-class table (worst classes only when there are many) and the matrix. */
    static String summary(Result r) {
        EvalStats s = r.stats();
        int k = s.classes();
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "evaluation of %s (%s, %d optimizer steps) on %s %s: %d samples in %d partitions%n",
                r.model(), r.checkpoint(), r.optimizerSteps(), r.dataset(), r.split(), s.count(), r.workers()));
        b.append(String.format(Locale.ROOT, "  loss %.4f   top-1 %.2f%% (%d/%d)   top-5 %.2f%% (%d/%d)%n", s.loss(), 100 * s.top1(),
                s.top1Hits(), s.count(), 100 * s.top5(), s.top5Hits(), s.count()));
        long[] count = s.perClassCount(), hits = s.perClassHits();
        int[] order = new int[k];
        for (int c = 0; c < k; c++) order[c] = c;
        if (k > CONSOLE_CLASSES) {
            order = worstFirst(s, Math.min(WORST_SHOWN, k));
            b.append(String.format(Locale.ROOT, "  the %d worst of %d classes (all in per_class.csv):%n", order.length, k));
        } else {
            b.append("  per-class accuracy:\n");
        }
        b.append("    class   count  correct  accuracy\n");
        for (int c : order) {
            b.append(String.format(Locale.ROOT, "    %5d  %6d  %7d  %s%n", c, count[c], hits[c], percent(s.classAccuracy(c))));
        }
        long[] conf = s.confusion();
        if (conf != null && k <= CONSOLE_CLASSES) {
            long max = 1;
            for (long v : conf) max = Math.max(max, v);
            int width = Math.max(Long.toString(max).length(), Integer.toString(k - 1).length()) + 1;
            b.append("  confusion matrix (rows: true class, columns: predicted class):\n");
            b.append("    true\\pred");
            for (int c = 0; c < k; c++) b.append(pad(Integer.toString(c), width));
            b.append('\n');
            for (int t = 0; t < k; t++) {
                b.append(pad(Integer.toString(t), 13));
                for (int p = 0; p < k; p++) b.append(pad(Long.toString(conf[t * k + p]), width));
                b.append('\n');
            }
        }
        return b.toString();
    }

    /** The {@code n} classes with the lowest accuracy (classes without samples last), lowest first, ties by index. */
    static int[] worstFirst(EvalStats s, int n) {
        int k = s.classes();
        int[] order = new int[n];
        boolean[] taken = new boolean[k];
        for (int r = 0; r < n; r++) {
            int best = -1;
            for (int c = 0; c < k; c++) {
                if (taken[c]) continue;
                if (best < 0 || worse(s.classAccuracy(c), s.classAccuracy(best))) best = c;
            }
            taken[best] = true;
            order[r] = best;
        }
        return order;
    }

    private static boolean worse(double a, double b) {
        if (Double.isNaN(a)) return false;
        return Double.isNaN(b) || a < b;
    }

    private static String percent(double v) {
        return Double.isNaN(v) ? "       -" : String.format(Locale.ROOT, "%7.2f%%", 100 * v);
    }

    private static String pad(String s, int width) {
        return " ".repeat(Math.max(0, width - s.length())) + s;
    }

    /** Every number of the evaluation; accuracies of classes without samples are null. */
    static String json(Result r) {
        EvalStats s = r.stats();
        int k = s.classes();
        StringBuilder b = new StringBuilder("{");
        b.append("\"checkpoint\":").append(quote(r.checkpoint()));
        b.append(",\"model\":").append(quote(r.model()));
        b.append(",\"optimizer_steps\":").append(r.optimizerSteps());
        b.append(",\"dataset\":").append(quote(r.dataset()));
        b.append(",\"split\":").append(quote(r.split()));
        b.append(",\"workers\":").append(r.workers());
        b.append(",\"classes\":").append(k);
        b.append(",\"count\":").append(s.count());
        b.append(",\"loss\":").append(number(s.loss()));
        b.append(",\"top1\":").append(number(s.top1()));
        b.append(",\"top5\":").append(number(s.top5()));
        b.append(",\"top1_correct\":").append(s.top1Hits());
        b.append(",\"top5_correct\":").append(s.top5Hits());
        b.append(",\"per_class\":[");
        long[] count = s.perClassCount(), hits = s.perClassHits();
        for (int c = 0; c < k; c++) {
            b.append(c > 0 ? "," : "").append("{\"class\":").append(c).append(",\"count\":").append(count[c])
                    .append(",\"correct\":").append(hits[c]).append(",\"accuracy\":").append(number(s.classAccuracy(c))).append('}');
        }
        b.append(']');
        long[] conf = s.confusion();
        if (conf != null) {
            b.append(",\"confusion\":[");
            for (int t = 0; t < k; t++) {
                b.append(t > 0 ? ",[" : "[");
                for (int p = 0; p < k; p++) b.append(p > 0 ? "," : "").append(conf[t * k + p]);
                b.append(']');
            }
            b.append(']');
        }
        return b.append("}\n").toString();
    }

    static String perClassCsv(EvalStats s) {
        StringBuilder b = new StringBuilder("class,count,correct,accuracy\n");
        long[] count = s.perClassCount(), hits = s.perClassHits();
        for (int c = 0; c < s.classes(); c++) {
            double a = s.classAccuracy(c);
            b.append(c).append(',').append(count[c]).append(',').append(hits[c]).append(',').append(Double.isNaN(a) ? "" : Double.toString(a)).append('\n');
        }
        return b.toString();
    }

    /** Rows: true class; columns: predicted class. */
    static String confusionCsv(EvalStats s) {
        int k = s.classes();
        long[] conf = s.confusion();
        StringBuilder b = new StringBuilder("true");
        for (int p = 0; p < k; p++) b.append(",pred_").append(p);
        b.append('\n');
        for (int t = 0; t < k; t++) {
            b.append(t);
            for (int p = 0; p < k; p++) b.append(',').append(conf[t * k + p]);
            b.append('\n');
        }
        return b.toString();
    }

    /** Round-trip text (a reader parses the very same double); NaN and infinities as null. */
    private static String number(double v) {
        return Double.isFinite(v) ? Double.toString(v) : "null";
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }
}
