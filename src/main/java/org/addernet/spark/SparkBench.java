package org.addernet.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.addernet.train.Config;
import org.addernet.train.StepAggregate;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * {@code addernet bench-spark}: the fixed cost of one synchronous step, apart from computing, for a model of
 * a given size: an empty Spark job over W cached partitions (job launch and task scheduling), the broadcast of
 * the weights (create, read by every task, destroy), and the sum of W gradients of that size through
 * {@link OrderedTreeReduce} (serialize, ship, merge). One JSON object per line: medians in ms over the reps.
 */
public final class SparkBench {
    private SparkBench() {}

    public static void main(String[] args) throws Exception {
        String master = "local[2]";
        int workers = 2, reps = 15;
        List<Integer> sizes = new ArrayList<>(List.of(61_942, 272_474, 25_557_032));
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--master" -> master = args[++i];
                case "--workers" -> workers = Integer.parseInt(args[++i]);
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--params" -> {
                    sizes.clear();
                    for (String s : args[++i].split(",")) sizes.add(Integer.parseInt(s.trim()));
                }
                default -> throw new IllegalArgumentException("bench-spark [--master URL] [--workers W] [--reps R] [--params N,N,...]; got " + args[i]);
            }
        }
        Config cfg = Config.load(null, List.of("model=lenet5bn", "dataset=fashion-mnist", "spark.ui.enabled=false"));
        try (SparkSession spark = SparkSession.builder().config(SparkJob.sparkConf(cfg, master)).getOrCreate()) {
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
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
