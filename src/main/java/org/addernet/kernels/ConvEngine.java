package org.addernet.kernels;

/**
 * The four heavy operations of the engine, over a whole batch, multithreaded on the engine's pool.
 *
 * <p>Tensor layouts are those of {@link ConvGeometry}. Filters and filter gradients live inside the model's
 * flat parameter and gradient buffers, hence the offsets. Every implementation must give the same results
 * (up to float summation order) for every geometry; a call gives the same bits whatever the pool's thread count
 * (the summation order depends on the geometry and the kernel set only, see {@link #kernelName}).
 *
 * <ul>
 *   <li>{@code adderForward}: {@code y[n,o,i,j] = -sum_{c,u,v} |xp[n,c,i*s+u,j*s+v] - w[o,c,u,v]|}, where a padded
 *       position of {@code xp} is 0 and contributes {@code |0 - w|}. Overwrites {@code y}.</li>
 *   <li>{@code adderBackward}: if {@code dx != null}, overwrites it with
 *       {@code sum_o clamp(w - xp, -1, 1) * dy} accumulated over overlapping windows (padding dropped);
 *       adds the full-precision filter gradient {@code sum_{n,i,j} (xp - w) * dy} to {@code dw[dwOff..]}.</li>
 *   <li>{@code convForward}/{@code convBackward}: the same for an ordinary cross-correlation (PyTorch Conv2d,
 *       no bias): {@code y = sum w*xp}; {@code dx = sum_o w*dy}; {@code dw += sum dy*xp}.</li>
 * </ul>
 * In the backward calls {@code dx == null} means the input gradient is not needed (a first layer); the engines
 * of {@link ConvEngines} also accept {@code dw == null} (filter gradient not needed, e.g. to time the input
 * gradient alone). An engine's calls are serialized: it owns per-thread workspaces.
 */
public interface ConvEngine {
    void adderForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y);

    void adderBackward(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, float[] dx, float[] dw, int dwOff);

    void convForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y);

    void convBackward(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, float[] dx, float[] dw, int dwOff);

    /**
     * {@link #adderForward}, then {@code map} applied to every output (eval BatchNorm, ReLU, residual; null: none).
     * Same bits as the forward followed by those passes; an engine may apply it inside its parallel call.
     */
    default void adderForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y, OutputMap map) {
        adderForward(g, x, w, wOff, y);
        if (map != null) {
            map.check(g);
            map.applySamples(y, g.o(), g.positions(), 0, g.n());
        }
    }

    /** {@link #convForward}, then {@code map}, as {@link #adderForward(ConvGeometry, float[], float[], int, float[], OutputMap)}. */
    default void convForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y, OutputMap map) {
        convForward(g, x, w, wOff, y);
        if (map != null) {
            map.check(g);
            map.applySamples(y, g.o(), g.positions(), 0, g.n());
        }
    }

    /** Short name of the kernels in use, e.g. {@code vector-16} or {@code scalar}, for logs and benchmarks. */
    String kernelName();
}
