package org.addernet.spark;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.addernet.data.SyntheticCifar;
import org.addernet.engine.Rng;
import org.addernet.model.Model;
import org.addernet.train.Config;
import org.addernet.train.Recipe;
import org.addernet.train.StepAggregate;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * {@code addernet bench-spark}: the Spark overhead of one synchronous training step, {@code sync=driver} beside
 * {@code sync=sharded}, one JSON object per line.
 *
 * <p>Default ({@code --models}): real training steps of LeNet-5-BN, ResNet-20, ResNet-18 and ResNet-50 (their true
 * parameter counts) on tiny synthetic inputs (28x28 / 32x32, two images per worker) so that computing is cheap, W
 * workers, both sync modes. Per step: the wall time of the step as the driver sees it (jobs, sums, update), the
 * compute time of the slowest worker's forward/backward (measured inside the sharded job's tasks; the driver mode
 * runs the identical computation, the two modes being bit-identical, so its compute time is taken from the sharded
 * run of the same model, step s of both modes running back to back), their difference {@code overhead_ms} (everything
 * but compute; NaN without a sharded run to time the compute), and the bytes the driver
 * received as task results per step ({@link ResultBytes}). Medians over {@code --reps} steps after 5 warm-up steps (JIT).
 *
 * <p>{@code --breakdown}: for each {@code sync=driver} run also a line {@code {"breakdown":...}} of
 * {@link StepTimings} over the measured steps (where the step's milliseconds go: driver laps, Spark's task metrics, the
 * task's phases) and the driver's SGD update ({@code apply_ms}); its {@code driver_outside_ms} is meaningless here
 * (the other mode's step runs in between). For each {@code sync=sharded} run a line of {@link ShardedTimings} (per job
 * A and B: Spark's task metrics, the tasks' phases, bytes fetched from other executors, decode,
 * encode, store).
 *
 * <p>{@code --params N,...}: the older protocol-only measurement for models of N parameters: an empty Spark job
 * over W cached partitions, the broadcast of the weights, the sum of W gradients through {@link OrderedTreeReduce}.
 */
public final class SparkBench {
    private SparkBench() {}

    static final int WARMUP = 5;

    public static void main(String[] args) throws Exception {
        String master = null; // under spark-submit (scripts/cluster submit bench-spark ...) its --master applies
        int workers = 2, reps = 15;
        List<Integer> sizes = new ArrayList<>();
        List<String> models = new ArrayList<>(List.of("lenet5bn", "resnet20", "resnet18", "resnet50"));
        List<String> syncs = new ArrayList<>(List.of("sharded", "driver"));
        boolean breakdown = false;
        String wire = "fp32";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--master" -> master = args[++i];
                case "--workers" -> workers = Integer.parseInt(args[++i]);
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--params" -> {
                    sizes.clear();
                    for (String s : args[++i].split(",")) sizes.add(Integer.parseInt(s.trim()));
                }
                case "--models" -> models = List.of(args[++i].split(","));
                case "--sync" -> syncs = List.of(args[++i].split(","));
                case "--breakdown" -> breakdown = true;
                case "--wire" -> wire = args[++i];
                default -> throw new IllegalArgumentException("bench-spark [--master URL] [--workers W] [--reps R] [--models M,M,...] "
                        + "[--sync sharded,driver] [--wire fp32|bf16] [--breakdown] | [--params N,N,...]; got " + args[i]);
            }
        }
        for (String s : syncs) {
            if (!s.equals("sharded") && !s.equals("driver")) throw new IllegalArgumentException("--sync takes sharded and/or driver, got " + s);
        }
        if (workers < 1 || reps < 1) throw new IllegalArgumentException("--workers and --reps must be >= 1");
        if (master == null && System.getProperty("spark.master") == null) master = "local[2]";
        Config cfg = Config.load(null, List.of("model=lenet5bn", "dataset=fashion-mnist", "spark.ui.enabled=false"));
        try (SparkSession spark = SparkSession.builder().config(SparkJob.sparkConf(cfg, master)).getOrCreate()) {
            master = spark.sparkContext().master();
            if (!sizes.isEmpty()) {
                protocol(spark, master, workers, reps, sizes);
                return;
            }
            Path data = Files.createTempDirectory("addernet-bench-spark");
            writeSyntheticIdx(data.resolve("fashion"), 2 * workers * (reps + WARMUP), 2 * workers);
            SyntheticCifar.write(data.resolve("cifar"), Math.max(10, 2 * workers * (reps + WARMUP)), Math.max(5, 2 * workers), 7);
            for (String m : models) modelSteps(spark, master, workers, reps, m, syncs, wire, data, breakdown);
        }
    }

    /**
     * One model, each sync mode: a JSON line of medians per mode. The modes' jobs are open side by side and step s
     * runs in every mode back to back (same JIT state, same load); the two modes compute the same bits, so the
     * compute time the sharded tasks measure for step s is the compute time of step s in the driver mode as well.
     */
    static void modelSteps(SparkSession spark, String master, int workers, int reps, String arch, List<String> syncs, String wire, Path data,
                           boolean breakdown) throws Exception {
        boolean lenet = arch.equals("lenet5bn");
        int batch = 2 * workers, modes = syncs.size();
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
        double[][] step = new double[modes][reps], jobA = new double[modes][reps], jobB = new double[modes][reps];
        double[] comp = new double[reps], apply = new double[reps];
        Arrays.fill(comp, Double.NaN);
        long[] bytes = new long[modes];
        int params = 0;
        List<SparkJob> jobs = new ArrayList<>();
        ResultBytes listener = new ResultBytes();
        try {
            for (String sync : syncs) {
                Recipe recipe = new Recipe(Config.load(null, List.of("model=" + arch, "dataset=" + (lenet ? "fashion-mnist" : "cifar10"),
                        "data_dir=" + data.resolve(lenet ? "fashion" : "cifar"), "batch_size=" + batch, "train_limit=" + batch * (reps + WARMUP),
                        "test_limit=" + batch, "eval_batch_size=" + batch, "epochs=1", "workers=" + workers, "sync=" + sync, "checkpoint=false",
                        "augment=none", "lr_schedule=constant", "lr=0.01", "log_every=100000", "seed=3", "spark.ui.enabled=false", "wire=" + wire,
                        // One job per step: the modes alternate step by step, so a group of steps would end at every step anyway.
                        "steps_per_job=1")));
                SparkJob job = new SparkJob(recipe, spark, Files.createTempDirectory("addernet-bench-spark-run").toString(), quiet);
                jobs.add(job);
                params = job.trainer().model().params().size();
                if (job.sharded() != null) {
                    job.sharded().scatter();
                    if (breakdown) job.sharded().timings();
                } else if (breakdown) job.timings();
            }
            spark.sparkContext().addSparkListener(listener);
            for (int s = 0; s < WARMUP + reps; s++) {
                for (int m = 0; m < modes; m++) {
                    SparkJob job = jobs.get(m);
                    ShardedSteps sharded = job.sharded();
                    spark.sparkContext().listenerBus().waitUntilEmpty(60_000);
                    if (breakdown && s == WARMUP) { // drops the warm-up steps
                        if (sharded == null) job.timings().report();
                        else sharded.timings().report();
                    }
                    listener.reset();
                    long t0 = System.nanoTime(), ta = 0;
                    if (sharded != null) {
                        sharded.runAndApply(0, s, 0.01, "bench-spark step " + s);
                    } else {
                        StepAggregate r = job.driverSteps().run(0, s);
                        ta = System.nanoTime();
                        r.apply(job.trainer().model(), job.trainer().optimizer(), 0.01, false, "bench-spark step " + s);
                    }
                    long t1 = System.nanoTime();
                    double ms = (t1 - t0) / 1e6;
                    spark.sparkContext().listenerBus().waitUntilEmpty(60_000);
                    if (s < WARMUP) continue;
                    int r = s - WARMUP;
                    step[m][r] = ms;
                    if (sharded == null) apply[r] = (t1 - ta) / 1e6;
                    bytes[m] += listener.bytes.get();
                    double[] js = sharded != null ? sharded.lastJobSeconds : new double[] {Double.NaN, Double.NaN};
                    jobA[m][r] = js[0] * 1e3;
                    jobB[m][r] = js[1] * 1e3;
                    if (sharded != null) comp[r] = sharded.lastComputeSeconds * 1e3;
                }
            }
            if (breakdown) {
                for (int m = 0; m < modes; m++) {
                    ShardedSteps sh = jobs.get(m).sharded();
                    if (sh != null) {
                        System.out.printf(Locale.ROOT, "{\"master\":\"%s\",\"workers\":%d,\"model\":\"%s\",\"sync\":\"sharded\",\"wire\":\"%s\",\"breakdown\":%s}%n",
                                master, workers, arch, wire, sh.timings().report());
                        continue;
                    }
                    System.out.printf(Locale.ROOT, "{\"master\":\"%s\",\"workers\":%d,\"model\":\"%s\",\"sync\":\"driver\",\"apply_ms\":%.3f,\"breakdown\":%s}%n",
                            master, workers, arch, median(apply), jobs.get(m).timings().report());
                }
            }
        } finally {
            spark.sparkContext().removeSparkListener(listener);
            for (SparkJob j : jobs) j.close();
        }
        double computeMs = median(comp);
        for (int m = 0; m < modes; m++) {
            String sync = syncs.get(m);
            System.out.printf(Locale.ROOT, "{\"master\":\"%s\",\"workers\":%d,\"model\":\"%s\",\"params\":%d,\"sync\":\"%s\",\"wire\":\"%s\",\"steps\":%d,"
                            + "\"step_ms\":%.1f,\"compute_ms\":%.1f,\"overhead_ms\":%.1f,\"driver_bytes_per_step\":%d%s}%n",
                    master, workers, arch, params, sync, wire, reps, median(step[m]), computeMs, median(step[m]) - computeMs, bytes[m] / reps,
                    sharded(sync) ? String.format(Locale.ROOT, ",\"job_a_ms\":%.1f,\"job_b_ms\":%.1f", median(jobA[m]),
                            median(jobB[m])) : "");
        }
    }

    static boolean sharded(String sync) {
        return sync.equals("sharded");
    }

    /** Fashion-MNIST-format IDX files (raw, not gzipped) of random 28x28 images: what LeNet-5-BN reads. */
    static void writeSyntheticIdx(Path dir, int train, int test) throws IOException {
        Files.createDirectories(dir);
        Rng r = Rng.derive(11, 1);
        for (String split : List.of("train", "t10k")) {
            int n = split.equals("train") ? train : test;
            try (DataOutputStream img = new DataOutputStream(Files.newOutputStream(dir.resolve(split + "-images-idx3-ubyte")));
                 DataOutputStream lab = new DataOutputStream(Files.newOutputStream(dir.resolve(split + "-labels-idx1-ubyte")))) {
                img.writeInt(0x803);
                img.writeInt(n);
                img.writeInt(28);
                img.writeInt(28);
                lab.writeInt(0x801);
                lab.writeInt(n);
                byte[] pixels = new byte[28 * 28];
                for (int i = 0; i < n; i++) {
                    for (int k = 0; k < pixels.length; k++) pixels[k] = (byte) r.nextInt(256);
                    img.write(pixels);
                    lab.writeByte(i % 10);
                }
            }
        }
    }

    /** The protocol alone ({@code --params}): empty job, broadcast, ordered tree sum, for models of these sizes. */
    static void protocol(SparkSession spark, String master, int workers, int reps, List<Integer> sizes) throws Exception {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<Integer> ids = new ArrayList<>();
        for (int p = 0; p < workers; p++) ids.add(p);
        JavaRDD<Integer> parts = jsc.parallelize(ids, workers).cache();
        parts.count();
        for (int n : sizes) {
            double[] job = new double[reps], bcast = new double[reps], reduce = new double[reps], step = new double[reps];
            final int size = n;
            for (int r = -3; r < reps; r++) {
                long t0 = System.nanoTime();
                parts.mapPartitionsWithIndex((p, it) -> List.of(p).iterator(), true).collect();
                long t1 = System.nanoTime();
                Broadcast<float[]> b = jsc.broadcast(new float[size]);
                parts.mapPartitionsWithIndex((p, it) -> List.of(b.value().length).iterator(), true).collect();
                b.destroy();
                long t2 = System.nanoTime();
                StepAggregate sum = OrderedTreeReduce.reduce(parts.mapPartitionsWithIndex((p, it) -> {
                    float[] g = new float[size];
                    Arrays.fill(g, p + 1);
                    return List.of(new Tuple2<>(p, StepAggregate.of(g, new double[16], 1, 1, 1))).iterator();
                }, true).mapToPair(t -> t), ids.size(), 2, StepAggregate::merge);
                long t3 = System.nanoTime();
                if (sum.count() != ids.size()) throw new IllegalStateException("lost a partial sum");
                // A whole step's overhead: broadcast, one job whose tasks read it and return a gradient, the sum.
                Broadcast<float[]> b2 = jsc.broadcast(new float[size]);
                OrderedTreeReduce.reduce(parts.mapPartitionsWithIndex((p, it) -> {
                    float[] g = new float[b2.value().length];
                    return List.of(new Tuple2<>(p, StepAggregate.of(g, new double[16], 1, 1, 1))).iterator();
                }, true).mapToPair(t -> t), ids.size(), 2, StepAggregate::merge);
                b2.destroy();
                long t4 = System.nanoTime();
                if (r >= 0) {
                    job[r] = (t1 - t0) / 1e6;
                    bcast[r] = (t2 - t1) / 1e6;
                    reduce[r] = (t3 - t2) / 1e6;
                    step[r] = (t4 - t3) / 1e6;
                }
            }
            System.out.printf(Locale.ROOT, "{\"master\":\"%s\",\"workers\":%d,\"params\":%d,\"empty_job_ms\":%.1f,\"broadcast_job_ms\":%.1f,"
                            + "\"tree_reduce_ms\":%.1f,\"step_overhead_ms\":%.1f}%n",
                    master, workers, n, median(job), median(bcast), median(reduce), median(step));
        }
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
