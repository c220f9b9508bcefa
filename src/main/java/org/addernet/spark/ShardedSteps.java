package org.addernet.spark;

import java.io.PrintStream;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.addernet.data.Sampler;
import org.addernet.data.Samples;
import org.addernet.engine.Params;
import org.addernet.model.Model;
import org.addernet.train.Bf16;
import org.addernet.train.EvalStats;
import org.addernet.train.Sgd;
import org.addernet.train.ShardStep;
import org.addernet.train.SingleProcess;
import org.addernet.train.Slicing;
import org.addernet.train.StepAggregate;
import org.addernet.train.StepApplier;
import org.addernet.train.TreeOrder;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.broadcast.Broadcast;
import scala.Tuple2;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * The sharded synchronous step ({@code sync=sharded}, issue 8), after BigDL's {@code AllReduceParameter} but with a
 * driver that moves no tensor data per step. The flat parameter vector and the BN buffer vector are cut into W
 * slices ({@link Slicing}); slice q's weights, BN buffers and momentum live as blocks in the BlockManager of the
 * executor that owns it ({@link StateBlocks}). One step is two Spark jobs (docs/DESIGN-NOTES.md, "One step = two jobs"):
 * <ol>
 *   <li><b>A, compute</b> (on the cached train shards, task p): fetch the W weight and buffer slices of version v in
 *       blocks while the forward runs ({@link Layout#loadInOrder}), run {@link ShardStep}, put the gradient blocks as
 *       the backward finishes them ({@link GradientBlocks}) and the weighted BN buffers (double); return only
 *       (count, loss sum, correct).</li>
 *   <li>driver: merges A's numbers in {@link TreeOrder}; the merged loss must be finite.</li>
 *   <li><b>B, reduce and update</b> (barrier mode, task q): fetch slice q from every worker, sum in {@link TreeOrder}
 *       over p (the association of {@link OrderedTreeReduce}); publish the partial sums of squares of every adder
 *       layer over slice q, read the other tasks' and merge them in slice order, so every task computes the same
 *       scales {@code eta*sqrt(n)/||g||} ({@link Sgd#adderScale}); scale the adder parts, SGD with the owner's
 *       momentum slice ({@link Sgd.Rule#update}, the loop the driver path runs), BN buffers = weighted sum / count;
 *       publish version v+1; return the non-finite counts (the driver then refuses the step).</li>
 * </ol>
 * The same slicing sums the norms of the driver path and of the single process ({@link Sgd#sliceNorms}), so all
 * three modes give the same bits. Version v's blocks are dropped only after v+1 is committed. Blocks are named
 * {@code <run>_<kind>_<generation>_<version>_...}: the run id is unique per job, the generation changes with every
 * {@link #scatter}, so a retried task or a replay never reads a stale block.
 *
 * <p>A task that cannot find a block (its holder executor was lost) fails the job with {@link StateBlocks#MISSING};
 * that becomes {@link StepApplier.StateLost}, and the Trainer replays from its last sync point (the last
 * checkpoint, whose state the driver holds since the gather that wrote it).
 */
final class ShardedSteps implements StepApplier, AutoCloseable {
    private static final AtomicLong RUNS = new AtomicLong();
    /**
     * Floats per block of a weight slice ({@code w}, {@code wh}: {@code <...>_<q>_<chunk>}) and of a worker's gradient
     * slice ({@code g}: {@code <...>_<p>_<q>_<chunk>}): job A's forward starts on the first weight blocks while the
     * later ones are still on the way ({@link Layout#loadInOrder}), and its backward puts a gradient block as soon as
     * the layers it covers are done ({@link GradientBlocks}). 4 MB of fp32: small against a ResNet-50 slice (~47 MB at
     * W = 2), large against a fetch's fixed cost; a LeNet slice is one block. A test may lower it (runs started
     * afterwards cut their slices so) to cut layers across blocks.
     */
    static volatile int CHUNK = 1 << 20;
    private static final ClassTag<Integer> INT = ClassTag$.MODULE$.apply(Integer.class);
    @SuppressWarnings("unchecked")
    private static final ClassTag<Tuple2<String, double[]>> RESULT = (ClassTag<Tuple2<String, double[]>>) (ClassTag<?>) ClassTag$.MODULE$.apply(Tuple2.class);

    /** What every task of the sharded jobs needs: names, slicings, the adder layers, the update rule. Small. */
    record Layout(String run, int workers, int depth, Slicing params, Slicing buffers, int[] adderOffset, int[] adderSize,
                  Sgd.Rule rule, boolean bf16, int chunk) implements Serializable {
        String name(String kind, int gen, long version, int... ids) {
            StringBuilder b = new StringBuilder(run).append('_').append(kind).append('_').append(gen).append('_').append(version);
            for (int i : ids) b.append('_').append(i);
            return b.toString();
        }

        /**
         * Blocks of slice q's weights and of each worker's gradient for slice q ({@link #CHUNK}; one, maybe empty, for
         * a slice of at most {@code chunk} floats). Block c holds the slice's floats from {@code c * chunk}.
         */
        int chunks(int q) {
            return Math.max(1, (params.length(q) + chunk - 1) / chunk);
        }

        /** Floats in block c of slice q. */
        int blockLength(int q, int c) {
            return Math.min(params.length(q), (c + 1) * chunk) - Math.min(params.length(q), c * chunk);
        }

        /** Every block name of one version (some may not exist). */
        List<String> names(int gen, long version) {
            List<String> r = new ArrayList<>();
            for (int q = 0; q < workers; q++) {
                for (String k : List.of("b", "m", "n")) r.add(name(k, gen, version, q));
                for (int c = 0; c < chunks(q); c++) {
                    r.add(name("w", gen, version, q, c));
                    r.add(name("wh", gen, version, q, c));
                }
                for (int p = 0; p < workers; p++) {
                    for (int c = 0; c < chunks(q); c++) r.add(name("g", gen, version, p, q, c));
                    r.add(name("wb", gen, version, p, q));
                }
            }
            return r;
        }

        /**
         * Fetches the W weight and buffer slices of (gen, version) into {@code p}, all at once: the weights a worker
         * computes with (under {@code wire=bf16} the bf16-rounded master weights, half the bytes), or with
         * {@code master} the fp32 master weights (evaluation).
         */
        void load(int gen, long version, Params p, boolean master) {
            loadInOrder(gen, version, p, master, StateBlocks.FETCH_THREADS).finish();
        }

        /**
         * As {@link #load}, but returns at once with the reads under way in the order a forward needs them, at most
         * {@code lanes} at a time: the BN buffer slices first (small), then the weight blocks by offset. The returned
         * reads are the {@link Params.Arrival} of {@code p}'s layers; {@code finish()} them before {@code p} is used by
         * anyone else.
         */
        StateBlocks.InOrder loadInOrder(int gen, long version, Params p, boolean master, int lanes) {
            List<StateBlocks.Read> reads = new ArrayList<>();
            List<Integer> ends = new ArrayList<>();
            for (int q = 0; q < workers; q++) {
                int bfrom = buffers.from(q);
                reads.add(new StateBlocks.Read(name("b", gen, version, q), (long) buffers.length(q) * Float.BYTES, Float.BYTES,
                        (b, i) -> b.asFloatBuffer().get(p.buffers, bfrom + i, b.remaining() / Float.BYTES)));
                ends.add(0);
            }
            for (int q = 0; q < workers; q++) {
                for (int c = 0; c < chunks(q); c++) {
                    reads.add(weightRead(gen, version, q, c, p.data, params.from(q), bf16 && !master));
                    ends.add(Math.min(params.to(q), params.from(q) + (c + 1) * chunk));
                }
            }
            return StateBlocks.readInOrder(reads, ends.stream().mapToInt(Integer::intValue).toArray(), lanes);
        }

        /** Block c of weight slice q (bf16 or fp32) into {@code dst}, whose index {@code at} is the slice's first float. */
        private StateBlocks.Read weightRead(int gen, long version, int q, int c, float[] dst, int at, boolean half) {
            int first = c * chunk, n = Math.min(params.length(q), first + chunk) - first, to = at + first;
            return half ? new StateBlocks.Read(name("wh", gen, version, q, c), (long) n * Bf16.BYTES, Bf16.BYTES,
                    (b, i) -> Bf16.decode(b, dst, to + i, b.remaining() / Bf16.BYTES))
                    : new StateBlocks.Read(name("w", gen, version, q, c), (long) n * Float.BYTES, Float.BYTES,
                    (b, i) -> b.asFloatBuffer().get(dst, to + i, b.remaining() / Float.BYTES));
        }

        /** Slice q's fp32 master weights from its blocks (a checkpoint's gather, an owner that kept no copy). */
        float[] masterWeights(int gen, long version, int q) {
            float[] w = new float[params.length(q)];
            List<StateBlocks.Read> reads = new ArrayList<>();
            for (int c = 0; c < chunks(q); c++) reads.add(weightRead(gen, version, q, c, w, 0, false));
            StateBlocks.readAll(reads);
            return w;
        }

        /**
         * Slice q's weights ({@code w[from, to)}) as the owner publishes them, in {@link #chunks} blocks: the fp32
         * master, and under bf16 its rounding for the workers.
         */
        void putWeights(int gen, long version, int q, float[] w, int from, int to) {
            for (int c = 0; c < chunks(q); c++) {
                int a = from + c * chunk, e = Math.min(to, a + chunk);
                StateBlocks.putFloats(name("w", gen, version, q, c), w, a, e);
                if (bf16) StateBlocks.putBf16(name("wh", gen, version, q, c), w, a, e);
            }
        }

        /** Drops this JVM's blocks of weight slice q (tests: a lost executor). */
        void removeWeightsHere(int gen, long version, int q) {
            for (int c = 0; c < chunks(q); c++) {
                StateBlocks.removeHere(name("w", gen, version, q, c));
                if (bf16) StateBlocks.removeHere(name("wh", gen, version, q, c));
            }
        }

        /** Slot of {@link StateBlocks#keep} for kind k of slice q. */
        String slot(String kind, int q) {
            return kind + "_" + q;
        }
    }

    private final JavaSparkContext jsc;
    private final SparkJob.Shared shared;
    private final Layout layout;
    private final SparkData train, test;
    private final Model model;
    private final Sgd sgd;
    private final Sampler sampler;
    private final String[] epochsOf;
    private final SlotCheck slots;
    private final double eta;
    private final boolean perWorkerScaled;
    private final PrintStream log;
    private final ExecutorService cleaner = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "addernet sharded block cleaner");
        t.setDaemon(true);
        return t;
    });
    /** The live state: generation (bumped by every scatter) and version (one per committed step). */
    private int gen = -1;
    private long version;
    /** Whether the driver's arrays hold (gen, version). */
    private int gatheredGen = -1;
    private long gatheredVersion = -1;
    /** Preferred location of slice q's tasks: the executor holding its state. */
    private String[] owners;
    /** The slowest worker's forward/backward time of the last step (job A, without fetching or storing blocks). */
    double lastComputeSeconds;
    /** Wall time of the last step's jobs A (with the driver's merge) and B (reduce and update). */
    double[] lastJobSeconds = new double[2];
    /** Where the steps' time goes ({@code step_timing=true} or the benchmark's {@code --breakdown}); else null. */
    private ShardedTimings timings;
    /** Print {@link #timings} every this many steps (0: never, the benchmark reads them itself). */
    private int logTimingsEvery;
    /** Test hook: called after each committed step with the new version. */
    java.util.function.LongConsumer afterCommit = v -> {};

    ShardedSteps(JavaSparkContext jsc, SparkJob.Shared shared, SparkData train, SparkData test, Model model, Sgd sgd, Sampler sampler,
                 int epochs, int depth, double eta, boolean perWorkerScaled, SlotCheck slots, PrintStream log) {
        this.jsc = jsc;
        this.shared = shared;
        this.train = train;
        this.test = test;
        this.model = model;
        this.sgd = sgd;
        this.sampler = sampler;
        this.epochsOf = new String[] {Integer.toString(epochs)};
        this.slots = slots;
        this.eta = eta;
        this.perWorkerScaled = perWorkerScaled;
        this.log = log;
        int workers = train.shardSizes.length;
        Params p = model.params();
        List<Params.View> adders = Sgd.adderViews(p);
        int[] off = new int[adders.size()], len = new int[adders.size()];
        for (int l = 0; l < off.length; l++) {
            off[l] = adders.get(l).offset();
            len[l] = adders.get(l).size();
        }
        String run = "r" + RUNS.incrementAndGet() + "x" + Long.toString(System.nanoTime() & 0xffffffffL, 36);
        this.layout = new Layout(run, workers, depth, Slicing.of(p.size(), workers), Slicing.of(p.buffers.length, workers), off, len,
                sgd.rule(), shared.bf16Wire(), CHUNK);
        this.owners = new String[workers];
        requireNoDynamicAllocation(jsc.getConf(), jsc.isLocal());
    }

    /**
     * Job B runs in Spark's barrier mode, which Spark refuses under dynamic allocation (outside local mode, where
     * dynamic allocation is off anyway): say so before the first step, not at the first job B.
     */
    static void requireNoDynamicAllocation(org.apache.spark.SparkConf conf, boolean local) {
        if (!local && conf.getBoolean("spark.dynamicAllocation.enabled", false)) {
            throw new IllegalArgumentException("sync=sharded runs each step's update in Spark's barrier mode, which does not work with "
                    + "spark.dynamicAllocation.enabled=true: set it to false or use sync=driver");
        }
    }

    Layout layout() {
        return layout;
    }

    /** The step timings of this run, started now if not yet ({@link ShardedTimings}). */
    ShardedTimings timings() {
        if (timings == null) timings = new ShardedTimings(jsc);
        return timings;
    }

    /** {@code step_timing=true}: a line {@code step timing, ...} of {@link ShardedTimings} every {@code every} steps. */
    void logTimings(int every) {
        timings();
        logTimingsEvery = every;
    }

    private void timed(ShardedTimings.Job j) {
        if (timings != null) jsc.setLocalProperty(ShardedTimings.PROPERTY, j == null ? null : j.name());
    }

    long version() {
        return version;
    }

    int generation() {
        return gen;
    }

    // ---------------------------------------------------------------- the step

    @Override
    public StepAggregate runAndApply(int epoch, int step, double lr, String where) {
        try {
            return runStep(epoch, step, lr, where);
        } finally {
            timed(null); // also after a failed job: no later job counts as a step's
        }
    }

    private StepAggregate runStep(int epoch, int step, double lr, String where) {
        slots.await();
        String desc = String.format(Locale.ROOT, "epoch %d/%s step %d/%d", epoch + 1, epochsOf[0], step + 1, sampler.stepsPerEpoch());
        int w = layout.workers();
        final int g = gen;
        final long v = version;

        // A: compute on every shard.
        long t0 = System.nanoTime();
        jsc.setJobDescription(desc);
        final LongSums counters = timings == null ? null : timings.counters;
        timed(ShardedTimings.Job.A);
        List<Tuple2<String, double[]>> a = lost(where, () -> train.shards.mapPartitionsWithIndex(
                new ComputeTask(shared, layout, g, v, epoch, step, counters), true).collect());
        double[][] stats = new double[w][];
        double compute = 0;
        String kernels = null;
        for (Tuple2<String, double[]> t : a) {
            double[] x = t._2(); // {partition, count, loss sum, correct, compute seconds}
            stats[(int) x[0]] = x[1] > 0 ? Arrays.copyOfRange(x, 1, 4) : null;
            if (x[1] > 0) kernels = StepAggregate.sameKernels(kernels, t._1());
            compute = Math.max(compute, x[4]);
        }
        lastComputeSeconds = compute;
        List<double[]> ordered = new ArrayList<>(Arrays.asList(stats));
        double[] total = TreeOrder.merge(ordered, layout.depth(), ShardedSteps::addStats);
        if (total == null || total[0] == 0) throw new IllegalStateException("empty global batch at " + where);
        long count = (long) total[0];
        double lossSum = total[1];
        if (!Double.isFinite(lossSum)) {
            throw new IllegalStateException("loss is " + lossSum + " at " + where + " (lr " + lr + "): training diverged");
        }
        boolean[] present = new boolean[w];
        for (int p = 0; p < w; p++) present[p] = stats[p] != null;

        // B: each slice summed over the workers where it lives, the norms agreed on (a barrier stage), the
        // slice updated and published as v + 1: one job, no round trip through the driver between sum and update.
        long t1 = System.nanoTime();
        jsc.setJobDescription(desc + ": sum and update the slices");
        final boolean first = sgd.steps() == 0;
        timed(ShardedTimings.Job.B);
        ReduceUpdateTask task = new ReduceUpdateTask(layout, g, v, present, count, lr, first, !perWorkerScaled, eta, counters);
        List<Tuple2<String, double[]>> b = lost(where, () -> JavaRDD.fromRDD(slices(owners).rdd().barrier()
                .mapPartitionsWithIndex(task, true, RESULT), RESULT).collect());
        timed(null); // afterCommit may run jobs (a checkpoint's gather): they are not job B's
        String[] updatedAt = new String[w];
        long poisoned = 0;
        double[] verdict = null;
        for (Tuple2<String, double[]> t : b) {
            double[] x = t._2(); // {q, non-finite sums, bad layer, its norm, non-finite weights}
            updatedAt[(int) x[0]] = t._1();
            poisoned += (long) x[4];
            verdict = x;
        }
        // Every task merged the same gathered numbers, so all reached the same verdict: any one task's says it.
        if (verdict[1] > 0) {
            throw new IllegalStateException("the summed gradient has " + (long) verdict[1] + " non-finite values at " + where + " (lr " + lr
                    + "): training diverged");
        }
        if (verdict[2] >= 0) throw new IllegalStateException("adder gradient norm is " + verdict[3] + " at " + where + ": training diverged");
        if (poisoned > 0) {
            throw new IllegalStateException("the update would make " + poisoned + " weights non-finite at " + where + " (lr " + lr
                    + "): refused, the weights stay those before this step");
        }
        long t3 = System.nanoTime();
        lastJobSeconds = new double[] {(t1 - t0) / 1e9, (t3 - t1) / 1e9};
        if (timings != null) {
            timings.step(lastJobSeconds, (t3 - t0) / 1e9);
            if (logTimingsEvery > 0 && ((step + 1) % logTimingsEvery == 0 || step + 1 == sampler.stepsPerEpoch())) {
                try {
                    jsc.sc().listenerBus().waitUntilEmpty(10_000); // this step's task events
                } catch (java.util.concurrent.TimeoutException e) {
                    // report what arrived
                }
                log.printf(Locale.ROOT, "step timing, epoch %d step %d: %s%n", epoch + 1, step + 1, timings.report());
            }
        }
        // Commit v + 1; only now may version v go.
        version = v + 1;
        owners = updatedAt;
        sgd.countStep();
        model.setNumBatchesTracked(model.numBatchesTracked() + 1);
        List<String> old = layout.names(g, v);
        cleaner.submit(() -> StateBlocks.removeEverywhere(old));
        afterCommit.accept(version);
        return StepAggregate.of(null, null, count, lossSum, (long) total[2], kernels);
    }

    /** {count, loss sum, correct} of two workers (null: a worker without samples this step). */
    static double[] addStats(double[] x, double[] y) {
        if (x == null) return y;
        if (y == null) return x;
        return new double[] {x[0] + y[0], x[1] + y[1], x[2] + y[2]};
    }

    /** W single-element partitions, q's preferring {@code where[q]} (null: anywhere). */
    private JavaRDD<Integer> slices(String[] where) {
        List<Tuple2<Integer, scala.collection.immutable.Seq<String>>> items = new ArrayList<>();
        for (int q = 0; q < layout.workers(); q++) {
            List<String> loc = where == null || where[q] == null ? List.of() : List.of(where[q]);
            items.add(new Tuple2<>(q, CollectionConverters.asScala(loc).toSeq()));
        }
        return JavaRDD.fromRDD(jsc.sc().makeRDD(CollectionConverters.asScala(items).toSeq(), INT), INT);
    }

    /** Runs a job; a task that found a state block missing turns into {@link StepApplier.StateLost}. */
    private <T> T lost(String where, java.util.function.Supplier<T> job) {
        try {
            return job.get();
        } catch (Exception e) { // SparkException is checked, but Java calls into Scala may throw it anyway
            for (Throwable t = e; t != null; t = t.getCause()) {
                String m = t.getMessage();
                if (m != null && m.contains(StateBlocks.MISSING)) {
                    int i = m.indexOf(StateBlocks.MISSING), end = m.indexOf('\n', i);
                    throw new StateLost("sharded state lost at " + where + ": " + m.substring(i, end < 0 ? m.length() : end), e);
                }
                // A barrier stage with some tasks done cannot be retried (Spark aborts the job): when an executor died
                // under it, its slices went with it, as above.
                if (m != null && m.contains("ExecutorLostFailure")) {
                    int i = m.indexOf("ExecutorLostFailure"), end = m.indexOf('\n', i);
                    throw new StateLost("sharded state lost at " + where + ": " + m.substring(i, end < 0 ? m.length() : end), e);
                }
                // Spark's own check of a barrier stage's slots (SlotCheck checked before the step; an executor left since).
                if (m != null && m.contains("requires more slots than the total number of slots")) {
                    throw new IllegalStateException("the cluster offers " + slots.slots() + " task slots for workers=" + layout.workers()
                            + " at " + where + ": a sharded step runs all workers at once; add executors or cores, or lower workers", e);
                }
            }
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- state in and out

    /**
     * The driver's arrays become the live state of a new generation: one broadcast of the whole state (used once,
     * then destroyed), one task per slice puts its weights, buffers and momentum.
     */
    @Override
    public void scatter() {
        slots.await();
        if (gen >= 0) {
            List<String> old = new ArrayList<>(layout.names(gen, version));
            old.addAll(layout.names(gen, version + 1));
            cleaner.submit(() -> StateBlocks.removeEverywhere(old));
        }
        gen++;
        version = 0;
        Params p = model.params();
        jsc.setJobDescription("sharded: scatter the state (" + p.size() + " parameters) into " + layout.workers() + " slices");
        Broadcast<float[][]> state = jsc.broadcast(new float[][] {p.data, p.buffers, sgd.momentumBuffer()});
        try {
            final int g = gen;
            Layout l = layout;
            List<Tuple2<String, double[]>> r = slices(null).mapPartitionsWithIndex((Integer q, Iterator<Integer> it) -> {
                float[][] s = state.value();
                int from = l.params().from(q), to = l.params().to(q);
                l.putWeights(g, 0, q, s[0], from, to);
                StateBlocks.putFloats(l.name("b", g, 0, q), s[1], l.buffers().from(q), l.buffers().to(q));
                StateBlocks.putFloats(l.name("m", g, 0, q), s[2], from, to);
                // The first update most likely runs here: it starts from these arrays instead of reading the blocks.
                StateBlocks.keep(l.run(), l.slot("w", q), l.name("w", g, 0, q), Arrays.copyOfRange(s[0], from, to));
                StateBlocks.keep(l.run(), l.slot("m", q), l.name("m", g, 0, q), Arrays.copyOfRange(s[2], from, to));
                return List.of(new Tuple2<>(StateBlocks.here(), new double[] {q})).iterator();
            }, true).collect();
            String[] at = new String[layout.workers()];
            for (Tuple2<String, double[]> t : r) at[(int) t._2()[0]] = t._1();
            owners = at;
        } finally {
            state.destroy();
        }
        gatheredGen = gen;
        gatheredVersion = 0;
    }

    /** The live state into the driver's arrays: the only time tensor data reaches the driver. */
    @Override
    public void gather() {
        if (gen < 0 || (gatheredGen == gen && gatheredVersion == version)) return; // never scattered: the driver holds the state
        jsc.setJobDescription("sharded: gather the state for a checkpoint");
        final int g = gen;
        final long v = version;
        Layout l = layout;
        List<Tuple2<Integer, float[][]>> r = lost("gather", () -> slices(owners).mapPartitionsWithIndex((Integer q, Iterator<Integer> it) -> {
            float[][] s = {l.masterWeights(g, v, q),
                    StateBlocks.floats(l.name("b", g, v, q), l.buffers().length(q)),
                    StateBlocks.floats(l.name("m", g, v, q), l.params().length(q))};
            return List.of(new Tuple2<>(q, s)).iterator();
        }, true).collect());
        Params p = model.params();
        float[] mom = sgd.momentumBuffer();
        for (Tuple2<Integer, float[][]> t : r) {
            int q = t._1();
            float[][] s = t._2();
            System.arraycopy(s[0], 0, p.data, l.params().from(q), s[0].length);
            System.arraycopy(s[1], 0, p.buffers, l.buffers().from(q), s[1].length);
            System.arraycopy(s[2], 0, mom, l.params().from(q), s[2].length);
        }
        gatheredGen = gen;
        gatheredVersion = version;
    }

    /** Evaluation of the live weights: each task fetches the slices like job A. */
    EvalStats evaluate(int depth) {
        slots.await();
        jsc.setJobDescription("evaluate on " + test.count() + " test images");
        final int g = gen;
        final long v = version;
        return lost("evaluation", () -> {
            try {
                return OrderedTreeReduce.reduce(test.shards.mapPartitionsWithIndex(new EvalTask(shared, layout, g, v), true)
                        .mapToPair(t -> t), layout.workers(), depth, EvalStats::merge);
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** Test hook: the driver's arrays are no longer trusted to hold the live state (the next gather fetches it). */
    void forgetGathered() {
        gatheredGen = -1;
    }

    /** Test hook: drops a block of the live weights from this JVM's BlockManager, as if its executor had died. */
    void dropLiveSlice(int q) {
        layout.removeWeightsHere(gen, version, q);
        StateBlocks.forgetKept(); // a lost executor loses its memory too
    }

    @Override
    public void close() {
        if (timings != null) timings.detach(jsc);
        if (gen >= 0) {
            List<String> old = new ArrayList<>(layout.names(gen, version));
            old.addAll(layout.names(gen, version + 1));
            cleaner.submit(() -> StateBlocks.removeEverywhere(old));
        }
        StateBlocks.forgetKept(); // in local mode the executor's kept arrays are in this JVM
        cleaner.shutdown();
        try {
            cleaner.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- tasks

    /** Job A: one worker's share of the step, its gradient left in W slice blocks; returns its kernel set and numbers. */
    static final class ComputeTask implements Function2<Integer, Iterator<Object>, Iterator<Tuple2<String, double[]>>> {
        /**
         * Weight blocks in flight at once while the forward runs: two keep the link busy between one block's arrival
         * and the next request, without cutting the bandwidth the first blocks get (they are needed first).
         */
        static final int FETCH_LANES = 2;
        final SparkJob.Shared shared;
        final Layout layout;
        final int gen, epoch, step;
        final long version;
        final LongSums counters;

        ComputeTask(SparkJob.Shared shared, Layout layout, int gen, long version, int epoch, int step, LongSums counters) {
            this.counters = counters;
            this.shared = shared;
            this.layout = layout;
            this.gen = gen;
            this.version = version;
            this.epoch = epoch;
            this.step = step;
        }

        @Override
        public Iterator<Tuple2<String, double[]>> call(Integer partition, Iterator<Object> part) {
            WorkerPool.Worker w = WorkerPool.borrow(shared.model());
            ShardedTimings.Meter meter = new ShardedTimings.Meter();
            StateBlocks.meter(counters == null ? null : meter); // block traffic is metered only when timed
            try {
                w.invalidate(); // its weights and buffers are overwritten here and by the step
                Params p = w.model.params();
                // The weights arrive in offset order while the samples are looked up and the forward runs: layer l
                // waits only for its own. The fetch goes first, so nothing the task does before computing delays it.
                StateBlocks.InOrder in = layout.loadInOrder(gen, version, p, false, FETCH_LANES);
                // The gradient stays in the model's buffer: its blocks are encoded straight from there, each on a lane
                // beside the backward as soon as the layers it covers are done.
                GradientBlocks out = new GradientBlocks(layout, gen, version, partition, p.grad);
                try {
                    ShardStep.Result r;
                    long t0;
                    try {
                        meter.mark(0);
                        Sampler sampler = SparkJob.StepTask.sampler(shared);
                        Samples samples = shared.data().samples(part, partition, shared.trainKey(), true);
                        int[] positions = sampler.indices(epoch, partition, step);
                        int global = sampler.globalBatchAt(step);
                        meter.mark(1);
                        t0 = System.nanoTime();
                        p.setArrival(in);
                        r = w.step.runInPlace(samples, positions, epoch, global, shared.perWorkerEta(), out);
                    } finally {
                        p.setArrival(null);
                        in.finish(); // no fetch thread writes into this worker's arrays after it is given back
                    }
                    // The forward's waits for weights are the fetch it did not hide: overhead, not compute. (The puts
                    // beside the backward share its cores: what they take from it is counted as compute.)
                    long stalled = in.stalledNanos();
                    meter.add(ShardedTimings.Count.STALL_NANOS, stalled);
                    double computeSeconds = (System.nanoTime() - t0 - stalled) / 1e9;
                    meter.mark(2);
                    if (r.count() > 0) {
                        out.sendRest(); // blocks no layer finished (a per-worker scaled gradient: all of them)
                        for (int q = 0; q < layout.workers(); q++) {
                            StateBlocks.putDoubles(layout.name("wb", gen, version, partition, q), r.weightedBuffers(), layout.buffers().from(q),
                                    layout.buffers().to(q));
                        }
                    }
                    out.finish();
                    meter.mark(3);
                    meter.addTo(counters, ShardedTimings.Job.A);
                    return List.of(new Tuple2<>(r.kernels(), new double[] {partition, r.count(), r.lossSum(), r.correct(), computeSeconds})).iterator();
                } finally {
                    out.stop(); // no put reads this worker's gradient after it is given back
                }
            } finally {
                StateBlocks.meter(null);
                WorkerPool.giveBack(w);
            }
        }
    }

    /**
     * Job A's gradient as its W x {@link Layout#chunks} blocks ({@code g}, slice q block c), each put on a lane beside
     * the backward as soon as every parameter it covers has its final gradient ({@link Params.GradientReady}): the
     * backward finishes the last layers first, so the blocks of the last slices go while it still works on the first
     * layers, and what is left when it ends is mostly the first slice's first block. Every block's bytes are those of
     * the finished gradient, so the owner sums the same floats in the same order as before.
     */
    static final class GradientBlocks implements Params.GradientReady {
        /** Test hook: blocks of this JVM put while their task's backward still ran. */
        static final AtomicLong EARLY = new AtomicLong();
        private final Layout layout;
        private final int gen, partition;
        private final long version;
        private final float[] grad;
        /** Floats of block i whose gradient is final (guarded by this; each layer reports each of its ranges once). */
        private final int[] finalFloats;
        /** Block i: slice {@code slice[i]}, block {@code block[i]}, floats {@code [from[i], to[i])} of the flat vector. */
        private final int[] slice, block, from, to;
        private final boolean[] sent;
        private final StateBlocks.Lane lane = new StateBlocks.Lane();
        private boolean finished;

        GradientBlocks(Layout layout, int gen, long version, int partition, float[] grad) {
            this.layout = layout;
            this.gen = gen;
            this.version = version;
            this.partition = partition;
            this.grad = grad;
            int n = 0;
            for (int q = 0; q < layout.workers(); q++) n += layout.chunks(q);
            slice = new int[n];
            block = new int[n];
            from = new int[n];
            to = new int[n];
            sent = new boolean[n];
            finalFloats = new int[n];
            for (int q = 0, i = 0; q < layout.workers(); q++) {
                for (int c = 0; c < layout.chunks(q); c++, i++) {
                    slice[i] = q;
                    block[i] = c;
                    from[i] = layout.params().from(q) + Math.min(layout.params().length(q), c * layout.chunk());
                    to[i] = from[i] + layout.blockLength(q, c);
                }
            }
        }

        @Override
        public synchronized void ready(int a, int b) {
            for (int i = 0; i < sent.length; i++) {
                int overlap = Math.min(b, to[i]) - Math.max(a, from[i]);
                if (overlap <= 0) continue;
                finalFloats[i] += overlap;
                if (finalFloats[i] == to[i] - from[i] && !sent[i]) {
                    send(i);
                    EARLY.incrementAndGet();
                }
            }
        }

        /** The gradient is complete: puts the blocks not sent yet. */
        synchronized void sendRest() {
            for (int i = 0; i < sent.length; i++) if (!sent[i]) send(i);
        }

        private void send(int i) {
            sent[i] = true;
            String name = layout.name("g", gen, version, partition, slice[i], block[i]);
            int a = from[i], e = to[i];
            lane.submit(layout.bf16() ? () -> StateBlocks.putBf16(name, grad, a, e) : () -> StateBlocks.putFloats(name, grad, a, e));
        }

        /** Waits until every block sent is stored; rethrows the first failure. */
        void finish() {
            finished = true;
            lane.finish();
        }

        /** After a failure: waits until the lane has stopped (it reads {@code grad}), whatever it ended with. */
        void stop() {
            if (finished) return;
            try {
                lane.finish();
            } catch (RuntimeException e) {
                // the task already fails with its own exception
            }
        }
    }

    /**
     * Job B, one barrier task per slice q (Spark's barrier execution mode: all W tasks run at once, which a step
     * needs anyway): sum slice q over the workers in TreeOrder, compute its per-adder-layer partial sums of squares
     * and its non-finite count, publish those O(layers) numbers as a small block {@code n} and read the other W - 1
     * tasks' (they run at the same time: barrier mode; Spark's {@code allGather} is not used, its wait polls with a
     * 1-second sleep), merge the W tasks' numbers in slice order exactly as the driver did ({@link Sgd#adderScale}: the
     * same scales, bit for bit, in every task), then scale, run the SGD rule with the owner's momentum, set buffers =
     * weighted sum / count and publish version v + 1. The operands are read where they are stored (local blocks as
     * views, remote ones and the weighted buffers fetched in parallel) and added straight from their bytes: one float
     * array, the sum, is allocated; under {@code wire=bf16} each is decoded to fp32 as it is added. The master weights
     * and momentum come from this executor's kept arrays when the last step's task ran here (else from their
     * blocks), and the new ones are kept for the next step. A step the gathered numbers refuse (a non-finite sum or
     * norm) changes and publishes nothing, in every task alike; a slice whose new weights are not finite is not
     * published (the driver then refuses the step). Returns {q, non-finite sums over all slices, the first layer
     * whose norm is not finite (-1: none), that norm, non-finite new weights of slice q}.
     */
    static final class ReduceUpdateTask implements scala.Function2<Object, scala.collection.Iterator<Integer>,
            scala.collection.Iterator<Tuple2<String, double[]>>>, Serializable {
        final Layout layout;
        final int gen;
        final long version, count;
        final boolean[] present;
        final double lr, eta;
        final boolean first, scaled;
        final LongSums counters;

        ReduceUpdateTask(Layout layout, int gen, long version, boolean[] present, long count, double lr, boolean first, boolean scaled, double eta,
                         LongSums counters) {
            this.layout = layout;
            this.gen = gen;
            this.version = version;
            this.present = present;
            this.count = count;
            this.lr = lr;
            this.first = first;
            this.scaled = scaled;
            this.eta = eta;
            this.counters = counters;
        }

        /** An operand of the sum: a worker's slice still as its stored blocks (block c from float c * chunk), or a partial sum. */
        private record Operand(ByteBuffer[] blocks, float[] sum) {}

        /**
         * Worker p's gradient blocks for slice q held for reading if this executor stores all of them (added to
         * {@code held}), else null: then they are all read like remote ones (a read takes a local block from here).
         */
        private ByteBuffer[] localBlocks(int p, int q, List<StateBlocks.Held> held) {
            int chunks = layout.chunks(q), unit = layout.bf16() ? Bf16.BYTES : Float.BYTES;
            StateBlocks.Held[] h = new StateBlocks.Held[chunks];
            for (int c = 0; c < chunks; c++) {
                h[c] = StateBlocks.local(layout.name("g", gen, version, p, q, c), (long) layout.blockLength(q, c) * unit);
                if (h[c] == null) { // a retried job A put elsewhere what its first attempt had put here
                    for (int k = 0; k < c; k++) h[k].close();
                    return null;
                }
            }
            ByteBuffer[] b = new ByteBuffer[chunks];
            for (int c = 0; c < chunks; c++) {
                held.add(h[c]);
                b[c] = h[c].bytes;
            }
            return b;
        }

        /**
         * Test hook: in local mode, treat worker p's gradient slice as remote in task q unless p == q (as on a cluster
         * where each worker's task ran on its slice's executor), so the fused sum-while-fetching path runs.
         */
        static volatile boolean EMULATE_EXECUTORS = false;
        /** Test hook: tasks of this JVM that added the remote slice to the local one as it arrived. */
        static final AtomicLong FUSED = new AtomicLong();
        /** How long a task waits for the other slices' norms (the slower tasks' sums) before it gives up. */
        static final long NORMS_TIMEOUT_S = 600;

        @Override
        public scala.collection.Iterator<Tuple2<String, double[]>> apply(Object q, scala.collection.Iterator<Integer> ignored) {
            ShardedTimings.Meter meter = new ShardedTimings.Meter();
            StateBlocks.meter(counters == null ? null : meter); // block traffic is metered only when timed
            try {
                Tuple2<String, double[]> r = run((Integer) q, meter, BarrierTaskContext.get());
                return CollectionConverters.asScala(List.of(r).iterator());
            } finally {
                StateBlocks.meter(null);
            }
        }

        private Tuple2<String, double[]> run(int q, ShardedTimings.Meter meter, BarrierTaskContext ctx) {
            int len = layout.params().length(q), blen = layout.buffers().length(q), from = layout.params().from(q), to = from + len;
            int w = layout.workers(), chunks = layout.chunks(q), chunk = layout.chunk();
            boolean bf16 = layout.bf16();
            int unit = bf16 ? Bf16.BYTES : Float.BYTES;
            List<StateBlocks.Held> held = new ArrayList<>();
            float[] sum;
            double[][] wb = new double[w][];
            try {
                // Local operands stay where they are stored; remote ones (and every weighted buffer slice) are fetched
                // in parallel, block by block, each decoded into an array of its own as it arrives.
                List<Operand> ops = new ArrayList<>();
                List<Integer> remote = new ArrayList<>();
                List<StateBlocks.Read> fetch = new ArrayList<>();
                int operands = 0;
                for (int p = 0; p < w; p++) {
                    if (!present[p]) {
                        ops.add(null);
                        continue;
                    }
                    operands++;
                    ByteBuffer[] blocks = EMULATE_EXECUTORS && p != q ? null : localBlocks(p, q, held);
                    if (blocks != null) {
                        ops.add(new Operand(blocks, null));
                    } else {
                        remote.add(p);
                        ops.add(new Operand(null, new float[len]));
                    }
                    double[] d = wb[p] = new double[blen];
                    fetch.add(new StateBlocks.Read(layout.name("wb", gen, version, p, q), (long) blen * Double.BYTES, Double.BYTES,
                            (b, i) -> b.asDoubleBuffer().get(d, i, b.remaining() / Double.BYTES)));
                }
                // Two operands, one here and one remote (W = 2, or fewer workers had samples): the tree is one addition
                // of the two in any association (an absent worker is the identity), so each piece of the remote slice is
                // added to the local one as it arrives, overlapping the sum with the transfer (the same floats, x + y
                // being y + x bit for bit).
                Operand local = null;
                for (Operand o : ops) if (o != null && o.blocks() != null) local = o;
                boolean fused = operands == 2 && remote.size() == 1;
                for (int p : remote) {
                    float[] a = ops.get(p).sum();
                    ByteBuffer[] mine = fused ? local.blocks() : null;
                    for (int c = 0; c < chunks; c++) {
                        int at = c * chunk;
                        ByteBuffer minec = mine == null ? null : mine[c];
                        fetch.add(new StateBlocks.Read(layout.name("g", gen, version, p, q, c), (long) layout.blockLength(q, c) * unit, unit, (b, i) -> {
                            int n = b.remaining() / unit;
                            decodeInto(b, a, at + i, bf16);
                            if (minec != null) addRange(a, at + i, n, minec, i, bf16);
                        }));
                    }
                }
                StateBlocks.readAll(fetch);
                meter.mark(0);
                if (fused) FUSED.incrementAndGet();
                if (fused) for (int p = 0; p < w; p++) if (ops.get(p) != null && ops.get(p).blocks() != null) ops.set(p, null); // added already
                // The association of OrderedTreeReduce / SingleProcess: the same float sums, element by element.
                Operand s = TreeOrder.merge(ops, layout.depth(), (x, y) -> {
                    if (x == null) return y;
                    if (y == null) return x;
                    // x + y into an array one of them already has (float addition is commutative, bit for bit):
                    // a stored operand is decoded into a fresh array only when both are still bytes.
                    if (x.sum() == null && y.sum() != null) {
                        addTo(y.sum(), x, chunk, bf16);
                        return y;
                    }
                    float[] acc = x.sum() != null ? x.sum() : decode(x.blocks(), len, chunk, bf16);
                    addTo(acc, y, chunk, bf16);
                    return new Operand(null, acc);
                });
                sum = s == null ? new float[len] : s.sum() != null ? s.sum() : decode(s.blocks(), len, chunk, bf16);
            } finally {
                for (StateBlocks.Held h : held) h.close();
            }
            double[] bsum = TreeOrder.merge(Arrays.asList(wb), layout.depth(), (x, y) -> {
                if (x == null) return y;
                if (y == null) return x;
                for (int i = 0; i < x.length; i++) x[i] += y[i];
                return x;
            });
            if (bsum == null) bsum = new double[blen];
            long nonFinite = 0;
            for (float x : sum) if (!Float.isFinite(x)) nonFinite++;
            double[] partial = Sgd.partialSumsOfSquares(layout.adderOffset(), layout.adderSize(), sum, from, from, to);
            meter.mark(1);

            // All W tasks' {non-finite count, partial sums}: O(layers) numbers each, exchanged as small blocks between
            // the tasks of this barrier stage (not through Spark's allGather, whose wait sleeps in whole seconds).
            int layers = partial.length;
            double[] mine = new double[1 + layers];
            mine[0] = nonFinite;
            System.arraycopy(partial, 0, mine, 1, layers);
            StateBlocks.putDoubles(layout.name("n", gen, version, q), mine, 0, mine.length);
            long nonFiniteAll = 0;
            double[] ss = new double[layers];
            for (int r = 0; r < w; r++) {
                double[] x = r == q ? mine : StateBlocks.awaitDoubles(layout.name("n", gen, version, r), 1 + layers, ctx, NORMS_TIMEOUT_S);
                nonFiniteAll += (long) x[0];
                // Each layer's squared norm: the partial sums in slice order, exactly as Sgd.scaleAdderGradients sums them.
                for (int l = 0; l < layers; l++) ss[l] += x[1 + l];
            }
            int badLayer = -1;
            float[] scales = null;
            if (scaled) {
                scales = new float[layers];
                for (int l = 0; l < layers && badLayer < 0; l++) {
                    if (!Double.isFinite(ss[l])) badLayer = l;
                    else scales[l] = Sgd.adderScale(eta, layout.adderSize()[l], ss[l]);
                }
            }
            meter.mark(2);
            if (nonFiniteAll > 0 || badLayer >= 0) { // refused in every task alike: nothing changes, nothing is published
                meter.addTo(counters, ShardedTimings.Job.B);
                return new Tuple2<>(StateBlocks.here(), new double[] {q, nonFiniteAll, badLayer, badLayer < 0 ? 0 : ss[badLayer], 0});
            }

            float[] g = sum;
            float[] wt = StateBlocks.take(layout.slot("w", q), layout.name("w", gen, version, q), () -> layout.masterWeights(gen, version, q));
            String mo = layout.name("m", gen, version, q);
            float[] m = first ? new float[len] : StateBlocks.take(layout.slot("m", q), mo, () -> StateBlocks.floats(mo, len));
            if (scales != null) {
                int[] off = layout.adderOffset(), size = layout.adderSize();
                for (int l = 0; l < off.length; l++) {
                    float sc = scales[l];
                    for (int i = Math.max(off[l], from), e = Math.min(off[l] + size[l], to); i < e; i++) g[i - from] *= sc;
                }
            }
            layout.rule().update(wt, g, m, 0, len, lr, first);
            long poisoned = 0;
            for (float x : wt) if (!Float.isFinite(x)) poisoned++;
            meter.mark(3);
            if (poisoned == 0) {
                float[] b = new float[blen];
                for (int i = 0; i < blen; i++) b[i] = (float) (bsum[i] / count);
                layout.putWeights(gen, version + 1, q, wt, 0, len);
                String wn = layout.name("w", gen, version + 1, q), mn = layout.name("m", gen, version + 1, q);
                StateBlocks.putFloats(mn, m, 0, len);
                StateBlocks.putFloats(layout.name("b", gen, version + 1, q), b, 0, blen);
                StateBlocks.keep(layout.run(), layout.slot("w", q), wn, wt);
                StateBlocks.keep(layout.run(), layout.slot("m", q), mn, m);
            }
            meter.mark(4);
            meter.addTo(counters, ShardedTimings.Job.B);
            return new Tuple2<>(StateBlocks.here(), new double[] {q, 0, -1, 0, poisoned});
        }

        /** A stored operand's blocks (block c from float {@code c * chunk}) as one fresh array of {@code len} floats. */
        static float[] decode(ByteBuffer[] blocks, int len, int chunk, boolean bf16) {
            float[] a = new float[len];
            for (int c = 0; c < blocks.length; c++) decodeInto(blocks[c], a, c * chunk, bf16);
            return a;
        }

        /** The values in {@code b} into {@code a} from index {@code at}. */
        static void decodeInto(ByteBuffer b, float[] a, int at, boolean bf16) {
            if (bf16) Bf16.decode(b, a, at, b.remaining() / Bf16.BYTES);
            else b.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(a, at, b.remaining() / Float.BYTES);
        }

        /** {@code acc[at, at + n) += } values {@code from .. from + n} of the stored block {@code y} (fp32 or bf16 bytes). */
        static void addRange(float[] acc, int at, int n, ByteBuffer y, int from, boolean bf16) {
            if (bf16) {
                ByteBuffer v = y.duplicate().order(ByteOrder.LITTLE_ENDIAN);
                v.position(y.position() + from * Bf16.BYTES);
                Bf16.addTo(v, acc, at, n);
                return;
            }
            // In pieces: a bulk copy out of the buffer, then a plain loop the JIT vectorizes.
            FloatBuffer f = y.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            float[] c = new float[Math.min(n, 8192)];
            for (int k = 0; k < n; k += c.length) {
                int m = Math.min(c.length, n - k);
                f.get(from + k, c, 0, m);
                for (int i = 0; i < m; i++) acc[at + k + i] += c[i];
            }
        }

        /** {@code acc += y}, element by element (y's blocks: block c from float {@code c * chunk}). */
        static void addTo(float[] acc, Operand y, int chunk, boolean bf16) {
            if (y.sum() != null) {
                float[] v = y.sum();
                for (int i = 0; i < acc.length; i++) acc[i] += v[i];
                return;
            }
            ByteBuffer[] blocks = y.blocks();
            for (int c = 0; c < blocks.length; c++) {
                addRange(acc, c * chunk, blocks[c].remaining() / (bf16 ? Bf16.BYTES : Float.BYTES), blocks[c], 0, bf16);
            }
        }
    }

    /** Evaluation of one test shard with the live weights. */
    static final class EvalTask implements Function2<Integer, Iterator<Object>, Iterator<Tuple2<Integer, EvalStats>>> {
        final SparkJob.Shared shared;
        final Layout layout;
        final int gen;
        final long version;

        EvalTask(SparkJob.Shared shared, Layout layout, int gen, long version) {
            this.shared = shared;
            this.layout = layout;
            this.gen = gen;
            this.version = version;
        }

        @Override
        public Iterator<Tuple2<Integer, EvalStats>> call(Integer partition, Iterator<Object> part) {
            Samples samples = shared.data().samples(part, partition, shared.testKey(), false);
            WorkerPool.Worker w = WorkerPool.borrow(shared.model().forEval()); // no gradients, activations pooled
            try {
                w.invalidate();
                layout.load(gen, version, w.model.params(), true); // evaluation: the fp32 master weights
                return List.of(new Tuple2<>(partition, SingleProcess.evaluate(w.model, samples, shared.evalBatch(), w.engine))).iterator();
            } finally {
                WorkerPool.giveBack(w);
            }
        }
    }
}
