package org.addernet.spark;

import java.io.Serializable;
import org.addernet.engine.Engine;
import org.addernet.model.Model;
import org.addernet.model.Models;
import org.addernet.train.Recipe;

/**
 * What an executor needs to build its copy of the model and run its training steps ({@code microBatch}, see
 * {@link org.addernet.train.ShardStep}): small, so it travels in task closures. {@code evalOnly}: the model of eval
 * tasks ({@code evaluate}, {@code predict}, the training job's evaluations), built without gradients or backward
 * state ({@link Models#createEval}); being part of the spec, it is also a worker of its own in {@link WorkerPool}.
 */
public record ModelSpec(String arch, boolean adder, int classes, int inputSize, int threads, String kernels, int microBatch,
                        boolean evalOnly) implements Serializable {
    static ModelSpec of(Recipe recipe, int classes, int threads) {
        return new ModelSpec(recipe.arch, recipe.adder, classes, recipe.inputSize(), threads, recipe.config.get("kernels"), recipe.microBatch,
                false);
    }

    /** The same model for eval tasks only. */
    public ModelSpec forEval() {
        return evalOnly ? this : new ModelSpec(arch, adder, classes, inputSize, threads, kernels, microBatch, true);
    }

    public Model build(Engine engine) {
        // The seed is irrelevant: the weights always come from the driver's broadcast.
        return evalOnly ? Models.createEval(arch, adder, classes, inputSize, engine, 0) : Models.create(arch, adder, classes, inputSize, engine, 0);
    }
}
