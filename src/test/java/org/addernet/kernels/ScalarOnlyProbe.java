package org.addernet.kernels;

import org.addernet.engine.ThreadPool;

/** Run in a child JVM without the Vector API module by {@link ConvEnginesTest}. */
public final class ScalarOnlyProbe {
    private ScalarOnlyProbe() {
    }

    public static void main(String[] args) {
        try (ThreadPool pool = new ThreadPool(2)) {
            ConvEngine e = ConvEngines.create(pool, "auto");
            ConvGeometry g = new ConvGeometry(2, 3, 6, 6, 4, 3, 1, 1);
            float[] x = new float[g.inputSize()], w = new float[g.filterSize()], y = new float[g.outputSize()];
            e.adderForward(g, x, w, 0, y);
            System.out.println("auto=" + e.kernelName());
            try {
                ConvEngines.create(pool, "vector");
                System.out.println("vector=created");
            } catch (IllegalStateException ex) {
                System.out.println("vector=failed: " + ex.getMessage());
            }
        }
    }
}
