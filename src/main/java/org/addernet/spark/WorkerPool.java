package org.addernet.spark;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.addernet.engine.Engine;
import org.addernet.model.Model;
import org.addernet.train.ShardStep;

/**
 * Executor-side: engines and models live for the whole JVM (building them per task would allocate every
 * step), one per concurrently running task. A task borrows a {@link Worker}, loads the broadcast weights if
 * it has not seen that version yet, computes, and gives it back.
 */
final class WorkerPool {
    private static final Map<ModelSpec, ConcurrentLinkedQueue<Worker>> IDLE = new ConcurrentHashMap<>();

    private WorkerPool() {}

    /** An engine with its own threads and a model built from {@code spec}. */
    static final class Worker {
        final ModelSpec spec;
        final Engine engine;
        final Model model;
        final ShardStep step;
        long loadedVersion = -1;

        Worker(ModelSpec spec) {
            this.spec = spec;
            this.engine = Engine.create(spec.threads(), spec.kernels());
            this.model = spec.build(engine);
            this.step = new ShardStep(model, engine.pool(), engine.conv().kernelName(), spec.microBatch());
        }

        /** Installs the broadcast weights (a no-op when this worker already holds that version). */
        void load(Weights w) {
            if (w.version() == loadedVersion) return;
            float[] p = model.params().data, b = model.params().buffers;
            if (w.params().length != p.length || w.buffers().length != b.length) {
                throw new IllegalStateException("broadcast weights do not fit model " + model.name());
            }
            System.arraycopy(w.params(), 0, p, 0, p.length);
            System.arraycopy(w.buffers(), 0, b, 0, b.length);
            loadedVersion = w.version();
        }

        /** A task that ran a training step changed the BN buffers: the next task must reload them. */
        void invalidate() {
            loadedVersion = -1;
        }
    }

    static Worker borrow(ModelSpec spec) {
        Worker w = IDLE.computeIfAbsent(spec, s -> new ConcurrentLinkedQueue<>()).poll();
        return w != null ? w : new Worker(spec);
    }

    static void giveBack(Worker w) {
        IDLE.get(w.spec).add(w);
    }
}
