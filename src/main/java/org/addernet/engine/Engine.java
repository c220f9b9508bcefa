package org.addernet.engine;

import org.addernet.kernels.ConvEngine;
import org.addernet.kernels.ConvEngines;

/** What every layer computes with: the thread pool and the convolution kernels chosen for this JVM. */
public record Engine(ThreadPool pool, ConvEngine conv) implements AutoCloseable {
    /** {@code kernels} is {@code auto}, {@code vector} or {@code scalar}. */
    public static Engine create(int threads, String kernels) {
        ThreadPool pool = new ThreadPool(threads);
        return new Engine(pool, ConvEngines.create(pool, kernels));
    }

    @Override
    public void close() {
        pool.close();
    }
}
