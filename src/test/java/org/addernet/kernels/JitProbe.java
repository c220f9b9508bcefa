package org.addernet.kernels;

/**
 * Run in a child JVM by {@link KernelJitTest}: calls the vector adder forward on one small block (2 filters x 1
 * tap x one or two vectors of columns) as many times as the argument says.
 */
public final class JitProbe {
    private JitProbe() {
    }

    public static void main(String[] args) {
        int calls = Integer.parseInt(args[0]);
        ColumnKernels k = new VectorColumnKernels();
        int o = 2, kk = 1, ld = k.columnMultiple(); // one tap: (almost) no loop backedges, so only the call count decides
        // w: o x kk row-major; x: kk rows of ld columns (xRow[k] = k * ld); y: o x ld row-major
        float[] w = new float[o * kk], x = new float[kk * ld], y = new float[o * ld];
        int[] xRow = new int[kk];
        for (int i = 0; i < kk; i++) xRow[i] = i * ld;
        for (int i = 0; i < x.length; i++) x[i] = i % 7 - 3;
        float sum = 0;
        for (int c = 0; c < calls; c++) {
            // C2's thresholds grow with its queue (Tier4LoadFeedback), which the JVM's own start-up compiles fill for
            // the first few hundred ms: a short pause now and then lets it drain, as a training step's other work
            // does, so the count below measures the scaled threshold and not the start-up queue (without the pauses
            // about 1 probe in 4 ended its 3,000 calls before the policy let the kernel through).
            if ((c & 127) == 127) sleep(5);
            w[c % w.length] = c % 5;
            k.adderForward(o, kk, ld, w, 0, x, xRow, y);
            sum += y[c % y.length];
        }
        System.out.println("probe done " + sum + " C1 excluded " + VectorColumnKernels.C1_EXCLUDED);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
