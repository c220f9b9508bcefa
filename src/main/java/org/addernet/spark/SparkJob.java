package org.addernet.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.addernet.data.BatchAssembler;
import org.addernet.data.Datasets;
import org.addernet.data.ImageDataset;
import org.addernet.data.Sampler;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.model.Model;
import org.addernet.train.Config;
import org.addernet.train.EvalStats;
import org.addernet.train.Recipe;
import org.addernet.train.SingleProcess;
import org.addernet.train.StepAggregate;
import org.addernet.train.Trainer;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * The Spark training job (DESIGN.md §4): synchronous data parallelism over W workers, one Spark job per step.
 *
 * <p>The training set is broadcast once and each of the W partitions of a cached RDD keeps its strided shard
 * ({@link ImageDataset#strided}: partition p holds the samples {@code i % W == p}); tasks then carry only their
 * partition number. Per step the driver broadcasts the weights, every task trains on its share of the global
 * batch with a multithreaded engine and returns the sum of its gradients ({@link StepAggregate}), a
 * {@code treeReduce} sums them, and the driver applies the adaptive adder scaling and SGD
 * ({@link StepAggregate#apply}) and destroys the broadcast. Evaluation runs the same way over the test set.
 * Sampling and augmentation depend only on (seed, epoch, partition, sample id), so a retried task recomputes
 * exactly the same result, and a run equals the single-process trainer with {@code emulate_workers = W}.
 */
public final class SparkJob implements AutoCloseable {
    private final JavaSparkContext jsc;
    private final Engine driverEngine;
    private final Trainer trainer;
    private final JavaRDD<ImageDataset> trainShards, testShards;
    private final Broadcast<ImageDataset> trainAll, testAll;
    private final int workers;
    private final Shared shared;
    private final Model model;

    /** Spark settings every run needs (Kryo with registration required), then the recipe's {@code spark.*} keys. */
    public static SparkConf sparkConf(Config cfg, String master) {
        SparkConf conf = new SparkConf().setAppName("addernet " + cfg.get("model") + "_" + cfg.get("variant") + " on " + cfg.get("dataset"));
        if (master != null) conf.setMaster(master);
        else if (!conf.contains("spark.master")) conf.setMaster("local[*]");
        conf.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
        conf.setIfMissing("spark.kryoserializer.buffer.max", "1g");
        conf.setIfMissing("spark.driver.maxResultSize", "4g");
        conf.setIfMissing("spark.ui.showConsoleProgress", "false");
        // Every step wants all W tasks at once, so waiting for a "local" slot only delays a retried task after an
        // executor loss (measured: 2.9 s per retry, and a replacement executor left idle for the rest of the run).
        conf.setIfMissing("spark.locality.wait", "0s");
        for (Map.Entry<String, String> e : cfg.sparkSettings().entrySet()) conf.set(e.getKey(), e.getValue());
        // Not overridable: every class on the wire must be registered, and registered by us.
        conf.set("spark.kryo.registrationRequired", "true");
        conf.set("spark.kryo.registrator", AdderKryoRegistrator.class.getName());
        return conf;
    }

    public SparkJob(Recipe recipe, SparkSession spark, String out, PrintStream log) throws IOException {
        this.jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        this.workers = recipe.workers > 0 ? recipe.workers : jsc.defaultParallelism();
        int taskCpus = Integer.parseInt(jsc.getConf().get("spark.task.cpus", "1"));
        ImageDataset train = recipe.dataset(true), test = recipe.dataset(false);
        this.driverEngine = Engine.create(1, recipe.config.get("kernels"));
        Model model = recipe.model(driverEngine);
        ModelSpec spec = new ModelSpec(recipe.arch, recipe.adder, recipe.spec.numClasses(), recipe.threads(taskCpus),
                recipe.config.get("kernels"));
        Sampler sampler = recipe.sampler(train.count(), workers);

        jsc.setJobDescription("caching " + train.count() + " training and " + test.count() + " test images in " + workers + " partitions");
        this.trainAll = jsc.broadcast(train);
        this.testAll = jsc.broadcast(test);
        this.trainShards = shards(trainAll, workers, "train");
        this.testShards = shards(testAll, workers, "test");

        this.model = model;
        this.shared = new Shared(spec, recipe.spec.name(), recipe.seed, recipe.augment, train.count(), workers,
                recipe.batchSize, recipe.perWorkerScaling ? recipe.config.getDouble("eta") : 0, recipe.evalBatchSize);
        int depth = recipe.config.getInt("tree_depth");
        Trainer.StepRunner steps = (epoch, step) -> {
            jsc.setJobDescription(String.format(Locale.ROOT, "epoch %d/%d step %d/%d", epoch + 1, recipe.epochs, step + 1,
                    sampler.stepsPerEpoch()));
            Broadcast<Weights> w = broadcastWeights(model);
            try {
                return OrderedTreeReduce.reduce(trainShards.mapPartitionsWithIndex(new StepTask(shared, w, epoch, step), true)
                        .mapToPair(t -> t), workers, depth, StepAggregate::merge);
            } catch (Exception e) {
                throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
            } finally {
                w.destroy();
            }
        };
        Trainer.Evaluator eval = () -> {
            jsc.setJobDescription("evaluate on " + test.count() + " test images");
            Broadcast<Weights> w = broadcastWeights(model);
            try {
                return OrderedTreeReduce.reduce(testShards.mapPartitionsWithIndex(new EvalTask(shared, w), true)
                        .mapToPair(t -> t), workers, depth, EvalStats::merge);
            } catch (Exception e) {
                throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
            } finally {
                w.destroy();
            }
        };
        FsStore files = new FsStore(jsc.hadoopConfiguration(), out);
        this.trainer = new Trainer(recipe, model, recipe.sgd(model.params().size()), sampler.stepsPerEpoch(), steps, eval, files, log);
        log.printf(Locale.ROOT, "spark %s: %s, %d parameters; %s: %d train / %d test images in %d partitions; %d steps/epoch of batch %d; %d engine threads per task%n",
                jsc.master(), model.name(), model.params().size(), recipe.spec.name(), train.count(), test.count(), workers,
                sampler.stepsPerEpoch(), recipe.batchSize, spec.threads());
    }

    public Trainer trainer() {
        return trainer;
    }

    public int workers() {
        return workers;
    }

    /**
     * Each partition's result of one step with the current weights, in partition order, without applying it:
     * what a retried task would recompute (used to check that it is bit-identical).
     */
    List<StepAggregate> partitionResults(int epoch, int step) {
        Broadcast<Weights> w = broadcastWeights(model);
        try {
            List<StepAggregate> r = new ArrayList<>();
            for (Tuple2<Integer, StepAggregate> t : trainShards.mapPartitionsWithIndex(new StepTask(shared, w, epoch, step), true).collect()) {
                r.add(t._2());
            }
            return r;
        } finally {
            w.destroy();
        }
    }

    private JavaRDD<ImageDataset> shards(Broadcast<ImageDataset> all, int w, String what) {
        JavaRDD<ImageDataset> rdd = stridedShards(jsc, all, w).setName(what + " shards").persist(StorageLevel.MEMORY_ONLY());
        rdd.count();
        return rdd;
    }

    /**
     * W partitions, partition p holding the strided shard p of the broadcast dataset: tasks carry only their
     * partition number, and a lost partition is recomputed from the broadcast.
     */
    static JavaRDD<ImageDataset> stridedShards(JavaSparkContext jsc, Broadcast<ImageDataset> all, int w) {
        List<Integer> ids = new ArrayList<>();
        for (int p = 0; p < w; p++) ids.add(p);
        return jsc.parallelize(ids, w).map(p -> all.value().strided(p, w));
    }

    private Broadcast<Weights> broadcastWeights(Model model) {
        Params p = model.params();
        // Copies: in local mode the executors read the broadcast object itself, and the driver goes on updating.
        return jsc.broadcast(Weights.snapshot(p.data, p.buffers));
    }

    /** Settings every task needs; small and serializable. */
    record Shared(ModelSpec model, String dataset, long seed, boolean augment, int trainSize, int workers, int globalBatch,
                  double perWorkerEta, int evalBatch) implements java.io.Serializable {
        BatchAssembler assembler(ImageDataset shard, boolean train) {
            Datasets.Spec s = Datasets.spec(dataset);
            return new BatchAssembler(shard, s.mean(), s.std(), train && augment, seed);
        }
    }

    /** One worker's share of a training step. */
    static final class StepTask implements Function2<Integer, Iterator<ImageDataset>, Iterator<Tuple2<Integer, StepAggregate>>> {
        private static final Map<List<Long>, Sampler> SAMPLERS = new ConcurrentHashMap<>();
        final Shared shared;
        final Broadcast<Weights> weights;
        final int epoch, step;

        StepTask(Shared shared, Broadcast<Weights> weights, int epoch, int step) {
            this.shared = shared;
            this.weights = weights;
            this.epoch = epoch;
            this.step = step;
        }

        @Override
        public Iterator<Tuple2<Integer, StepAggregate>> call(Integer partition, Iterator<ImageDataset> it) {
            ImageDataset shard = it.next();
            Sampler sampler = SAMPLERS.computeIfAbsent(List.of((long) shared.trainSize(), (long) shared.workers(),
                    (long) shared.globalBatch(), shared.seed()), k -> new Sampler(shared.trainSize(), shared.workers(), shared.globalBatch(), shared.seed()));
            int[] ids = sampler.indices(epoch, partition, step);
            int global = sampler.globalBatchAt(step);
            int[] local = new int[ids.length];
            for (int k = 0; k < ids.length; k++) local[k] = (ids[k] - partition) / shared.workers();
            WorkerPool.Worker w = WorkerPool.borrow(shared.model());
            try {
                w.load(weights.value());
                w.invalidate(); // the step updates the BN running statistics
                StepAggregate agg = new StepAggregate().add(w.step.run(shared.assembler(shard, true), local, epoch, global, shared.perWorkerEta()));
                return List.of(new Tuple2<>(partition, agg)).iterator();
            } finally {
                WorkerPool.giveBack(w);
            }
        }
    }

    /** Evaluation of one test shard. */
    static final class EvalTask implements Function2<Integer, Iterator<ImageDataset>, Iterator<Tuple2<Integer, EvalStats>>> {
        final Shared shared;
        final Broadcast<Weights> weights;

        EvalTask(Shared shared, Broadcast<Weights> weights) {
            this.shared = shared;
            this.weights = weights;
        }

        @Override
        public Iterator<Tuple2<Integer, EvalStats>> call(Integer partition, Iterator<ImageDataset> it) {
            ImageDataset shard = it.next();
            WorkerPool.Worker w = WorkerPool.borrow(shared.model());
            try {
                w.load(weights.value());
                return List.of(new Tuple2<>(partition, SingleProcess.evaluate(w.model, shared.assembler(shard, false),
                        shared.evalBatch(), w.engine))).iterator();
            } finally {
                WorkerPool.giveBack(w);
            }
        }
    }

    @Override
    public void close() {
        trainShards.unpersist(false);
        testShards.unpersist(false);
        trainAll.destroy();
        testAll.destroy();
        driverEngine.close();
    }
}
