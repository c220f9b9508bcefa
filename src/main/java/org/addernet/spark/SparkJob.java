package org.addernet.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.addernet.data.Sampler;
import org.addernet.data.Samples;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.model.Model;
import org.addernet.train.Bf16;
import org.addernet.train.Config;
import org.addernet.train.EvalStats;
import org.addernet.train.Recipe;
import org.addernet.train.ShardStep;
import org.addernet.train.SingleProcess;
import org.addernet.train.StepAggregate;
import org.addernet.train.Trainer;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * The Spark training job (DESIGN.md §4): synchronous data parallelism over W workers, one Spark job per step.
 *
 * <p>The training and test sets are cached once as W partitions ({@link SparkData}: decoded shards of in-memory
 * datasets, compressed image shards of ImageFolder/Parquet data); tasks carry only their partition number. Per
 * step the driver broadcasts the weights, every task trains on its share of the global batch with a
 * multithreaded engine and returns the sum of its gradients ({@link StepAggregate}), an ordered tree reduce sums
 * them, and the driver applies the adaptive adder scaling and SGD ({@link StepAggregate#apply}) and destroys the
 * broadcast. Evaluation runs the same way over the test set. Sampling and augmentation depend only on (seed,
 * epoch, partition, sample id), so a retried task recomputes exactly the same result, and a run equals the
 * single-process trainer with {@code emulate_workers = W}.
 */
public final class SparkJob implements AutoCloseable {
    private final JavaSparkContext jsc;
    private final Engine driverEngine;
    private final Trainer trainer;
    private final SparkData train, test;
    /** What the step and evaluation jobs run on: in local mode lineage-free views of the cached shards ({@link LocalStepRdd}), else the shards. */
    private org.apache.spark.api.java.JavaRDD<Object> trainJobs, testJobs;
    private final int workers;
    private final Shared shared;
    private final Model model;
    /** The sharded step, when this run uses it ({@code sync=sharded}, or {@code auto} for a large model); else null. */
    private final ShardedSteps sharded;
    /** The driver-synced step (used when {@link #sharded} is null). */
    private final Trainer.StepRunner driverSteps;
    /**
     * Local mode's driver-synced steps, several per Spark job ({@code steps_per_job}); null on a cluster, with
     * {@code steps_per_job=1} or under {@code sync=sharded}.
     */
    private LocalStepGroup group;
    /** Where the driver-synced steps' time goes ({@code step_timing=true}, or asked for by the benchmark); else null. */
    private StepTimings timings;
    /** Print {@link #timings} every {@code log_every} steps ({@code step_timing=true}). */
    private final boolean logTimings;

    /** Spark's local properties for a job's call site ({@code org.apache.spark.util.CallSite}'s SHORT_FORM and LONG_FORM). */
    static final String CALL_SITE_SHORT = "callSite.short", CALL_SITE_LONG = "callSite.long";

    /** {@code sync=auto} shards from this many parameters on (and W > 1): ResNet-18/50 shard, LeNet and the CIFAR ResNets do not. */
    public static final int AUTO_SHARDED_PARAMS = 1_000_000;

    /** Spark settings every run needs (Kryo with registration required), then the recipe's {@code spark.*} keys. */
    public static SparkConf sparkConf(Config cfg, String master) {
        return sparkConf("addernet " + cfg.get("model") + "_" + cfg.get("variant") + " on " + cfg.get("dataset"), cfg.sparkSettings(), master);
    }

    /** As above for jobs without a recipe ({@code prepare}): the {@code spark.*} settings given as a map. */
    public static SparkConf sparkConf(String appName, Map<String, String> sparkSettings, String master) {
        SparkConf conf = new SparkConf().setAppName(appName);
        if (master != null) conf.setMaster(master);
        else if (!conf.contains("spark.master")) conf.setMaster("local[*]");
        conf.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
        conf.setIfMissing("spark.kryoserializer.buffer.max", "1g");
        conf.setIfMissing("spark.driver.maxResultSize", "4g");
        conf.setIfMissing("spark.ui.showConsoleProgress", "false");
        // Every step wants all W tasks at once, so waiting for a "local" slot only delays a retried task after an
        // executor loss (measured: 2.9 s per retry, and a replacement executor left idle for the rest of the run).
        conf.setIfMissing("spark.locality.wait", "0s");
        // Results above this go through the executor's BlockManager: a put, a fetch by the driver over the block
        // transfer service (loopback Netty even in local mode), a remove. ResNet-20's 1.1 MB step result was just
        // above Spark's 1 MiB default (measured: 1 fetch thread pair and 3 RPCs per task). Spark caps it at
        // spark.rpc.message.maxSize (128 MiB).
        conf.setIfMissing("spark.task.maxDirectResultSize", "32m");
        // A block served to another executor is written to the socket this many bytes per write call (Spark's
        // default 64m): the JDK copies each call's whole heap range into a temporary direct buffer, however little
        // the socket then takes, so a 50 MB sharded slice was copied many times over (conf/spark-defaults.conf).
        conf.setIfMissing("spark.buffer.write.chunkSize", "1m");
        // Every broadcast (and every job's task binary is one) starts with a chunk of spark.broadcast.blockSize (4 MiB):
        // a 4 MiB allocation, zeroed, a G1 humongous object, per step on the scheduler thread (JFR: 1 GB over 300 LeNet
        // steps). The block size is the piece size of the torrent between executors; in local mode nothing is fetched
        // piece by piece, so small pieces cost nothing there.
        if (conf.get("spark.master", "").matches("local(\\[.*\\])?")) conf.setIfMissing("spark.broadcast.blockSize", "512k");
        for (Map.Entry<String, String> e : sparkSettings.entrySet()) conf.set(e.getKey(), e.getValue());
        // Not overridable: every class on the wire must be registered, and registered by us.
        conf.set("spark.kryo.registrationRequired", "true");
        conf.set("spark.kryo.registrator", AdderKryoRegistrator.class.getName());
        return conf;
    }

    public SparkJob(Recipe recipe, SparkSession spark, String out, PrintStream log) throws IOException {
        this.jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        this.localWeights = jsc.isLocal();
        this.workers = recipe.workers > 0 ? recipe.workers : jsc.defaultParallelism();
        String sync = recipe.config.get("sync");
        if (!sync.equals("auto") && !sync.equals("driver") && !sync.equals("sharded")) {
            throw new IllegalArgumentException("config key 'sync' must be auto, driver or sharded, got '" + sync + "'");
        }
        int slotWait = recipe.config.getInt("slot_wait_seconds");
        if (slotWait < 0) throw new IllegalArgumentException("config key 'slot_wait_seconds' must be >= 0, got " + slotWait);
        int taskCpus = Integer.parseInt(jsc.getConf().get("spark.task.cpus", "1"));
        FsStore files = new FsStore(jsc.hadoopConfiguration(), out);
        List<String> classes = recipe.images ? SparkData.imageClasses(jsc.hadoopConfiguration(), recipe) : null;
        int numClasses = classes != null ? classes.size() : recipe.spec.numClasses();
        if (classes != null) files.writeText(Trainer.CLASSES, String.join("\n", classes) + "\n");
        this.driverEngine = Engine.create(1, recipe.config.get("kernels"));
        Model model = recipe.model(driverEngine, numClasses);
        ModelSpec spec = ModelSpec.of(recipe, numClasses, recipe.threads(taskCpus));

        jsc.setJobDescription("caching the training and test data in " + workers + " partitions");
        SparkData train = SparkData.of(spark, recipe, true, classes, workers, false, log), test;
        try {
            test = SparkData.of(spark, recipe, false, classes, workers, false, log);
        } catch (RuntimeException | IOException e) {
            train.close();
            throw e;
        }
        this.train = train;
        this.test = test;
        this.trainJobs = jsc.isLocal() ? LocalStepRdd.of(train.shards) : train.shards;
        this.testJobs = jsc.isLocal() ? LocalStepRdd.of(test.shards) : test.shards;
        Sampler sampler = new Sampler(train.shardSizes, recipe.batchSize, recipe.seed, workers > 1);

        this.model = model;
        this.shared = new Shared(spec, SparkData.SampleSettings.of(recipe, numClasses), train.shardSizes, train.cacheKey,
                test.cacheKey, recipe.batchSize, recipe.perWorkerScaling ? recipe.config.getDouble("eta") : 0, recipe.evalBatchSize,
                recipe.bf16Wire);
        int depth = recipe.config.getInt("tree_depth");
        SlotCheck slots = new SlotCheck(jsc, workers, slotWait, log);
        this.logTimings = recipe.config.getBoolean("step_timing");
        this.timings = logTimings ? new StepTimings(jsc) : null;
        int logEvery = recipe.logEvery, stepsPerEpoch = sampler.stepsPerEpoch();
        Trainer.StepRunner steps = (epoch, step) -> {
            StepTimings t = timings;
            if (t != null) t.startStep();
            slots.await();
            jsc.setJobDescription(String.format(Locale.ROOT, "epoch %d/%d step %d/%d", epoch + 1, recipe.epochs, step + 1,
                    stepsPerEpoch));
            WeightsRef w = weightsFor(model, shared.bf16Wire());
            if (t != null) {
                t.lap(StepTimings.Lap.WEIGHTS);
                jsc.setLocalProperty(StepTimings.PROPERTY, "1");
            }
            StepTask task = new StepTask(shared, w, epoch, step, t == null ? null : t.phases);
            try {
                LocalStepGroup g = group;
                if (g != null) return g.step(task, String.format(Locale.ROOT, "epoch %d/%d from step %d/%d", epoch + 1, recipe.epochs,
                        step + 1, stepsPerEpoch), t);
                // The job's call site given: SparkContext.runJob otherwise walks this thread's stack for it at every job.
                jsc.setLocalProperty(CALL_SITE_SHORT, "training step");
                jsc.setLocalProperty(CALL_SITE_LONG, "org.addernet.spark.SparkJob training step (sync=driver)");
                return OrderedTreeReduce.reduce(trainJobs, task, StepAggregate.class, workers, depth, StepAggregate::merge, t);
            } catch (Exception e) {
                throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
            } finally {
                w.destroy();
                jsc.setLocalProperty(CALL_SITE_SHORT, null);
                jsc.setLocalProperty(CALL_SITE_LONG, null);
                if (t != null) {
                    jsc.setLocalProperty(StepTimings.PROPERTY, null);
                    t.lap(StepTimings.Lap.DESTROY);
                    t.endStep();
                    if (logTimings && ((step + 1) % logEvery == 0 || step + 1 == stepsPerEpoch)) {
                        log.printf(Locale.ROOT, "step timing, epoch %d step %d: %s%n", epoch + 1, step + 1, t.report());
                    }
                }
            }
        };
        Trainer.Evaluator eval = () -> {
            endStepGroup(); // its tasks hold the slots the evaluation needs
            slots.await();
            jsc.setJobDescription("evaluate on " + test.count() + " test images");
            WeightsRef w = weightsFor(model, false); // evaluation: the fp32 master weights
            try {
                return OrderedTreeReduce.reduce(testJobs, new EvalTask(shared, w), EvalStats.class, workers, depth, EvalStats::merge, null);
            } catch (Exception e) {
                throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
            } finally {
                w.destroy();
                if (timings != null) timings.discardLap();
            }
        };
        this.driverSteps = steps;
        int stepsPerJob = recipe.config.getInt("steps_per_job");
        boolean shard = sync.equals("sharded") || (sync.equals("auto") && workers > 1 && model.params().size() >= AUTO_SHARDED_PARAMS);
        org.addernet.train.Sgd sgd = recipe.sgd(model.params().size());
        // Norms summed over the slices of W workers in every mode, so sync=driver, sync=sharded and the single
        // process emulating W workers give the same bits.
        sgd.sliceNorms(workers);
        if (shard) {
            this.sharded = new ShardedSteps(jsc, shared, train, test, model, sgd, sampler, recipe.epochs, depth,
                    recipe.config.getDouble("eta"), recipe.perWorkerScaling, slots, log);
            if (logTimings) sharded.logTimings(logEvery);
            this.trainer = new Trainer(recipe, model, sgd, sampler.stepsPerEpoch(), sharded, () -> sharded.evaluate(depth), files, log);
        } else {
            this.sharded = null;
            // Local mode only: the group's tasks take their steps from this JVM (a cluster's executors could not).
            if (jsc.isLocal() && stepsPerJob > 1) this.group = new LocalStepGroup(jsc, trainJobs, workers, depth, stepsPerJob);
            this.trainer = new Trainer(recipe, model, sgd, sampler.stepsPerEpoch(), steps, eval, files, log);
        }
        log.printf(Locale.ROOT, "spark %s: %s, %d parameters; %s: %d train / %d test samples in %d partitions; %d steps/epoch of batch %d; %d engine threads per task; sync=%s%s%s%n",
                jsc.master(), model.name(), model.params().size(), recipe.spec.name(), train.count(), test.count(), workers,
                sampler.stepsPerEpoch(), recipe.batchSize, spec.threads(), shard ? "sharded" : "driver",
                sync.equals("auto") ? " (auto)" : "", group != null ? "; up to " + stepsPerJob + " steps per Spark job (local mode)" : "");
    }

    public Trainer trainer() {
        return trainer;
    }

    public int workers() {
        return workers;
    }

    /** The driver-synced step runner (whatever {@code sync} says): the benchmark times it. */
    Trainer.StepRunner driverSteps() {
        return driverSteps;
    }

    /** The sharded step of this run, or null when it syncs through the driver. */
    ShardedSteps sharded() {
        return sharded;
    }

    /**
     * Each partition's result of one step with the current weights, in partition order, without applying it:
     * what a retried task would recompute (used to check that it is bit-identical).
     */
    List<StepAggregate> partitionResults(int epoch, int step) {
        endStepGroup();
        WeightsRef w = weightsFor(model, shared.bf16Wire());
        try {
            List<StepAggregate> r = new ArrayList<>();
            for (Tuple2<Integer, StepAggregate> t : train.shards.mapPartitionsWithIndex(new StepTask(shared, w, epoch, step, null), true).collect()) {
                r.add(t._2());
            }
            return r;
        } finally {
            w.destroy();
        }
    }

    /** The step timings, started now if this run did not ask for them ({@code step_timing}); printed only if it did. */
    StepTimings timings() {
        if (timings == null) timings = new StepTimings(jsc);
        return timings;
    }

    /**
     * Models of at most this many bytes of weights (parameters and BN buffers) send them inside the step's task
     * ({@link WeightsRef}): Spark broadcasts every job's task binary anyway, so the weights ride in that broadcast
     * instead of a second one (serialize, store, look up, destroy). Above it a broadcast of their own: the task binary
     * stays small (Spark warns of a task binary above 1000 KiB, every step) and is not kept until the ContextCleaner
     * gets to it. LeNet-5-BN (62K parameters, 0.25 MB) travels inline; ResNet-20 (0.27M, 1.1 MB) as a broadcast.
     * In local mode neither: see {@link #localWeights}.
     */
    static final int INLINE_WEIGHTS_BYTES = 900 << 10;
    /** {@link #INLINE_WEIGHTS_BYTES}, lowered by tests to send a small model's weights as a broadcast. */
    int inlineWeightsBytes = INLINE_WEIGHTS_BYTES;
    /**
     * In local mode ({@code local}, {@code local[N]}: the executor is this JVM) the tasks find the step's weights in
     * {@link WeightsRef#LOCAL} by a key instead of inside the task binary or a broadcast: the task binary no longer
     * carries 0.25 MB (LeNet-5-BN) that the DAGScheduler Java-serializes into it and each task Java-deserializes again
     * (1.9 MB allocated per step on the scheduler thread, ~1 ms of deserialization per task), and ResNet-20's 1.1 MB
     * broadcast (Kryo, LZ4, BlockManager put, destroy message) is gone. A retried task runs in this JVM too, within
     * the job, while the entry is still there. Tests clear it to run the inline and broadcast paths in local mode.
     */
    boolean localWeights;

    /** Ends the running group of steps, if any (before another job needs its slots). */
    private void endStepGroup() {
        if (group == null) return;
        try {
            group.end();
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        }
    }

    /** Tests ({@link #jobsOnShards}): one Spark job per step, as on a cluster. */
    void jobPerStep() {
        if (group == null) return;
        group.close();
        group = null;
    }

    /** Tests: the jobs run on the cached shards themselves, as on a cluster (local mode uses {@link LocalStepRdd} views). */
    void jobsOnShards() {
        jobPerStep();
        LocalStepRdd.release(trainJobs);
        LocalStepRdd.release(testJobs);
        trainJobs = train.shards;
        testJobs = test.shards;
    }

    /** The current weights as the next step's tasks get them. */
    WeightsRef weightsFor() {
        return weightsFor(model, shared.bf16Wire());
    }

    /** {@code bf16}: the training steps' weights under {@code wire=bf16}, rounded as the sharded owners publish them. */
    private WeightsRef weightsFor(Model model, boolean bf16) {
        Params p = model.params();
        // Copies: in local mode the executors read the broadcast object itself, and the driver goes on updating.
        Weights w = Weights.snapshot(p.data, p.buffers);
        if (bf16) Bf16.round(w.params(), 0, w.params().length);
        if (localWeights) return WeightsRef.local(w);
        if (4L * (p.data.length + p.buffers.length) <= inlineWeightsBytes) return new WeightsRef(w, null, 0);
        return new WeightsRef(null, jsc.broadcast(w), 0);
    }

    /**
     * The step's weights as a task receives them: inside the task itself (small models), as a broadcast, or (local
     * mode) as the key of an entry in {@link #LOCAL}, which lives from the snapshot until {@link #destroy}.
     */
    static final class WeightsRef implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
        /** Local mode's weights by {@link Weights#version()}: the driver puts them, the tasks (same JVM) read them. */
        private static final Map<Long, Weights> LOCAL = new ConcurrentHashMap<>();
        private final Weights inline;
        private final Broadcast<Weights> broadcast;
        /** The {@link #LOCAL} key, or 0. */
        private final long localKey;

        private WeightsRef(Weights inline, Broadcast<Weights> broadcast, long localKey) {
            this.inline = inline;
            this.broadcast = broadcast;
            this.localKey = localKey;
        }

        static WeightsRef of(Broadcast<Weights> b) {
            return new WeightsRef(null, b, 0);
        }

        static WeightsRef local(Weights w) {
            LOCAL.put(w.version(), w); // versions are unique in the JVM and start at 1
            return new WeightsRef(null, null, w.version());
        }

        Weights value() {
            if (localKey != 0) {
                Weights w = LOCAL.get(localKey);
                if (w == null) throw new IllegalStateException("weights version " + localKey + " are gone: a task outlived its step");
                return w;
            }
            return inline != null ? inline : broadcast.value();
        }

        boolean isInline() {
            return inline != null;
        }

        boolean isLocal() {
            return localKey != 0;
        }

        void destroy() {
            if (broadcast != null) broadcast.destroy();
            if (localKey != 0) LOCAL.remove(localKey);
        }
    }

    /** Settings every task needs; small and serializable. */
    record Shared(ModelSpec model, SparkData.SampleSettings data, int[] shardSizes, String trainKey, String testKey,
                  int globalBatch, double perWorkerEta, int evalBatch, boolean bf16Wire) implements java.io.Serializable {
        /** Without {@code wire=bf16} (evaluation jobs). */
        Shared(ModelSpec model, SparkData.SampleSettings data, int[] shardSizes, String trainKey, String testKey, int globalBatch,
               double perWorkerEta, int evalBatch) {
            this(model, data, shardSizes, trainKey, testKey, globalBatch, perWorkerEta, evalBatch, false);
        }
    }

    /** One worker's share of a training step. */
    static final class StepTask implements Function2<Integer, Iterator<Object>, Iterator<Tuple2<Integer, StepAggregate>>> {
        private static final Map<List<Object>, Sampler> SAMPLERS = new ConcurrentHashMap<>();

        /** The job's sampler, built once per executor JVM. */
        static Sampler sampler(Shared shared) {
            return SAMPLERS.computeIfAbsent(List.of(shared.trainKey(), shared.globalBatch(), shared.data().seed()),
                    k -> new Sampler(shared.shardSizes(), shared.globalBatch(), shared.data().seed(), shared.shardSizes().length > 1));
        }
        final Shared shared;
        final WeightsRef weights;
        final int epoch, step;
        /** Where the task's time goes ({@link StepTimings}), or null when nobody asked. */
        final LongSums phases;

        StepTask(Shared shared, WeightsRef weights, int epoch, int step, LongSums phases) {
            this.shared = shared;
            this.weights = weights;
            this.epoch = epoch;
            this.step = step;
            this.phases = phases;
        }

        @Override
        public Iterator<Tuple2<Integer, StepAggregate>> call(Integer partition, Iterator<Object> part) {
            if (phases != null) StepTimings.localTask(partition, false);
            StepTimings.Clock clock = phases == null ? null : StepTimings.task(phases);
            Sampler sampler = sampler(shared);
            Samples samples = shared.data().samples(part, partition, shared.trainKey(), true);
            int[] positions = sampler.indices(epoch, partition, step);
            int global = sampler.globalBatchAt(step);
            TimedSamples timed = null;
            if (clock != null) {
                samples = timed = new TimedSamples(samples);
                clock.mark(StepTimings.Phase.SAMPLE);
            }
            WorkerPool.Worker w = WorkerPool.borrow(shared.model());
            try {
                Weights value = weights.value();
                if (clock != null) clock.mark(StepTimings.Phase.WEIGHTS_FETCH);
                w.load(value);
                w.invalidate(); // the step updates the BN running statistics
                if (clock != null) clock.mark(StepTimings.Phase.LOAD);
                ShardStep.Result r = w.step.run(samples, positions, epoch, global, shared.perWorkerEta());
                // wire=bf16 under sync=driver: the sharded step's roundings (the bytes stay fp32 on this path).
                if (shared.bf16Wire()) Bf16.round(r.grad(), 0, r.grad().length);
                StepAggregate agg = new StepAggregate().add(r);
                if (clock != null) {
                    clock.mark(StepTimings.Phase.COMPUTE);
                    clock.move(StepTimings.Phase.COMPUTE, StepTimings.Phase.FILL, timed.nanos, timed.cpu);
                    clock.done();
                    StepTimings.localTask(partition, true);
                }
                return List.of(new Tuple2<>(partition, agg)).iterator();
            } finally {
                WorkerPool.giveBack(w);
            }
        }
    }

    /** Samples whose {@link #fill} (batch assembly) is timed, wall and thread CPU of the calling thread. */
    static final class TimedSamples implements Samples {
        private final Samples s;
        long nanos, cpu;

        TimedSamples(Samples s) {
            this.s = s;
        }

        @Override
        public void fill(int epoch, int[] indices, int from, int n, float[] x, int[] y, org.addernet.engine.ThreadPool pool) {
            long t = System.nanoTime(), c = StepTimings.cpuNow();
            s.fill(epoch, indices, from, n, x, y, pool);
            nanos += System.nanoTime() - t;
            cpu += StepTimings.cpuNow() - c;
        }

        @Override public String name() { return s.name(); }
        @Override public int count() { return s.count(); }
        @Override public int id(int i) { return s.id(i); }
        @Override public int label(int i) { return s.label(i); }
        @Override public int numClasses() { return s.numClasses(); }
        @Override public int[] shape() { return s.shape(); }
        @Override public int sampleSize() { return s.sampleSize(); }
        @Override public String source(int i) { return s.source(i); }
    }

    /** Evaluation of one test shard. */
    static final class EvalTask implements Function2<Integer, Iterator<Object>, Iterator<Tuple2<Integer, EvalStats>>> {
        final Shared shared;
        final WeightsRef weights;

        EvalTask(Shared shared, Broadcast<Weights> weights) {
            this(shared, WeightsRef.of(weights));
        }

        EvalTask(Shared shared, WeightsRef weights) {
            this.shared = shared;
            this.weights = weights;
        }

        @Override
        public Iterator<Tuple2<Integer, EvalStats>> call(Integer partition, Iterator<Object> part) {
            Samples samples = shared.data().samples(part, partition, shared.testKey(), false);
            WorkerPool.Worker w = WorkerPool.borrow(shared.model().forEval()); // no gradients, activations pooled
            try {
                w.load(weights.value());
                return List.of(new Tuple2<>(partition, SingleProcess.evaluate(w.model, samples, shared.evalBatch(), w.engine))).iterator();
            } finally {
                WorkerPool.giveBack(w);
            }
        }
    }

    @Override
    public void close() {
        if (timings != null) timings.detach(jsc);
        if (sharded != null) sharded.close();
        if (group != null) group.close();
        LocalStepRdd.release(trainJobs);
        LocalStepRdd.release(testJobs);
        train.close();
        test.close();
        driverEngine.close();
    }
}
