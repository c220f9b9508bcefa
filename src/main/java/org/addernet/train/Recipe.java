package org.addernet.train;

import java.io.IOException;
import java.nio.file.Path;
import org.addernet.data.BatchAssembler;
import org.addernet.data.Datasets;
import org.addernet.data.ImageDataset;
import org.addernet.data.Sampler;
import org.addernet.engine.Engine;
import org.addernet.model.Model;
import org.addernet.model.Models;

/**
 * A {@link Config} turned into typed, validated training settings and the objects they imply (datasets, model,
 * optimizer, sampler, schedule). Shared by the single-process trainer and the Spark job, so both read a recipe
 * the same way.
 */
public final class Recipe {
    public final Config config;
    public final Datasets.Spec spec;
    public final String arch;
    public final boolean adder;
    public final long seed;
    public final boolean augment;
    public final int epochs, batchSize, workers, logEvery, evalBatchSize, checkpointEverySteps, maxSteps;
    public final boolean perWorkerScaling, checkpoint;

    public Recipe(Config cfg) {
        this.config = cfg;
        this.spec = Datasets.spec(cfg.get("dataset"));
        this.arch = cfg.get("model");
        if (!Models.ARCHS.contains(arch)) throw new IllegalArgumentException("config key 'model': unknown model '" + arch + "'; known: " + Models.ARCHS);
        String variant = cfg.get("variant");
        if (!variant.equals("adder") && !variant.equals("cnn")) {
            throw new IllegalArgumentException("config key 'variant' must be adder or cnn, got '" + variant + "'");
        }
        this.adder = variant.equals("adder");
        try {
            this.seed = Long.parseLong(cfg.get("seed"));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("config key 'seed' must be an integer, got '" + cfg.get("seed") + "'");
        }
        this.augment = switch (cfg.get("augment")) {
            case "default" -> spec.augmentation() == Datasets.Augmentation.CIFAR;
            case "cifar" -> true;
            case "none" -> false;
            default -> throw new IllegalArgumentException("config key 'augment' must be default, none or cifar, got '" + cfg.get("augment") + "'");
        };
        this.perWorkerScaling = switch (cfg.get("adaptive_scaling")) {
            case "global" -> false;
            case "per_worker" -> true;
            default -> throw new IllegalArgumentException("config key 'adaptive_scaling' must be global or per_worker, got '"
                    + cfg.get("adaptive_scaling") + "'");
        };
        this.epochs = positive(cfg, "epochs");
        this.batchSize = positive(cfg, "batch_size");
        this.evalBatchSize = positive(cfg, "eval_batch_size");
        this.logEvery = positive(cfg, "log_every");
        this.workers = cfg.getInt("workers");
        if (workers < 0) throw new IllegalArgumentException("config key 'workers' must be >= 0");
        this.checkpointEverySteps = cfg.getInt("checkpoint_every_steps");
        if (checkpointEverySteps < 0) throw new IllegalArgumentException("config key 'checkpoint_every_steps' must be >= 0");
        this.checkpoint = cfg.getBoolean("checkpoint");
        this.maxSteps = cfg.getInt("max_steps");
        if (maxSteps < 0) throw new IllegalArgumentException("config key 'max_steps' must be >= 0");
        // Validated here so that a bad value fails before any data is read.
        new LrSchedule(cfg.get("lr_schedule"), cfg.getDouble("lr"), epochs, 1, cfg.getInts("lr_milestones"),
                cfg.getDouble("lr_gamma"), cfg.getInt("warmup_epochs"));
        sgd(1);
    }

    private static int positive(Config cfg, String key) {
        int v = cfg.getInt(key);
        if (v < 1) throw new IllegalArgumentException("config key '" + key + "' must be >= 1, got " + v);
        return v;
    }

    /** The training (or test) split, cut to {@code train_limit}/{@code test_limit}. */
    public ImageDataset dataset(boolean train) throws IOException {
        ImageDataset d = Datasets.open(spec.name(), Path.of(config.get("data_dir")), train);
        int limit = config.getInt(train ? "train_limit" : "test_limit");
        if (limit < 0) throw new IllegalArgumentException("train_limit/test_limit must be >= 0");
        return limit == 0 || limit >= d.count() ? d : d.subset(0, limit);
    }

    /** Normalization of the dataset, and the recipe's augmentation for training data. */
    public BatchAssembler assembler(ImageDataset data, boolean train) {
        return new BatchAssembler(data, spec.mean(), spec.std(), train && augment, seed);
    }

    /** The model with its initial weights (a function of the seed). */
    public Model model(Engine engine) {
        Model m = Models.create(arch, adder, spec.numClasses(), engine, seed);
        int[] in = m.inputShape();
        if (in[0] != spec.channels() || in[1] != spec.height() || in[2] != spec.width()) {
            throw new IllegalArgumentException("model " + m.name() + " takes " + in[0] + "x" + in[1] + "x" + in[2]
                    + " inputs but dataset " + spec.name() + " has " + spec.channels() + "x" + spec.height() + "x" + spec.width());
        }
        return m;
    }

    public Sgd sgd(int size) {
        return new Sgd(size, config.getDouble("momentum"), config.getDouble("weight_decay"), config.getBoolean("nesterov"),
                config.getDouble("eta"));
    }

    public Sampler sampler(int trainSize, int workers) {
        return new Sampler(trainSize, workers, batchSize, seed);
    }

    public LrSchedule schedule(int stepsPerEpoch) {
        return new LrSchedule(config.get("lr_schedule"), config.getDouble("lr"), epochs, stepsPerEpoch,
                config.getInts("lr_milestones"), config.getDouble("lr_gamma"), config.getInt("warmup_epochs"));
    }

    /** {@code threads} of the recipe, with 0 meaning {@code dflt}. */
    public int threads(int dflt) {
        int t = config.getInt("threads");
        if (t < 0) throw new IllegalArgumentException("config key 'threads' must be >= 0");
        return t > 0 ? t : dflt;
    }
}
