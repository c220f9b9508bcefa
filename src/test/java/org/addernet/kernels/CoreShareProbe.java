package org.addernet.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;

/**
 * Development harness for issue 12 (batch-1 inference on 2 threads >= 1.7x one): does one thread's adder kernel run
 * slower while a second thread runs the same kernel on its own data? No sharing, no barrier inside a round: each
 * thread repeats {@code adderForward} on a private, L2-resident 8x8x64 batch-1 layer (O = 64, K = 576, 112 columns)
 * for a fixed count. Rounds alternate "solo" (thread 0 alone, thread 1 waits) and "pair" (both), and each round
 * reads /proc/stat and /proc/self/stat, so rounds during which other processes used more than {@code QUIET} of a
 * core are reported apart: on a loaded machine only the quiet rounds say something. Prints per round kind the median
 * ns per call of thread 0 and the pair/solo ratio (1.0: the two vCPUs do not share a core's FP pipes; ~1.4: SMT
 * siblings or a frequency drop, and no thread split can give 2x).
 * Run: java [jvm options] -cp target/classes:target/test-classes org.addernet.kernels.CoreShareProbe [rounds] [calls]
 */
final class CoreShareProbe {
    private CoreShareProbe() {
    }

    /** Share of a core other processes may use during a round that still counts as quiet. */
    static final double QUIET = 0.05;

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        int calls = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
        ColumnKernels k = (ColumnKernels) Class.forName("org.addernet.kernels.VectorColumnKernels").getDeclaredConstructor().newInstance();
        int o = 64, kk = 576, ld = 112;
        float[][] w = new float[2][o * kk], x = new float[2][kk * ld], y = new float[2][o * ld];
        int[] rows = new int[kk];
        for (int r = 0; r < kk; r++) rows[r] = r * ld;
        for (int t = 0; t < 2; t++) {
            for (int i = 0; i < w[t].length; i++) w[t][i] = (float) Math.sin(i + t);
            for (int i = 0; i < x[t].length; i++) x[t][i] = (float) Math.cos(i * 0.7 + t);
        }
        long[] ns = new long[2];
        CyclicBarrier start = new CyclicBarrier(2), end = new CyclicBarrier(2);
        boolean[] pair = new boolean[1];
        Thread other = new Thread(() -> {
            try {
                while (true) {
                    start.await();
                    if (pair[0]) ns[1] = run(k, o, kk, ld, w[1], x[1], rows, y[1], calls);
                    end.await();
                }
            } catch (Exception e) {
                // interrupted at exit
            }
        });
        other.setDaemon(true);
        other.start();
        for (int i = 0; i < 5; i++) run(k, o, kk, ld, w[0], x[0], rows, y[0], calls); // warm-up: C2
        List<double[]> solo = new ArrayList<>(), both = new ArrayList<>();
        int loud = 0;
        for (int r = 0; r < 2 * rounds; r++) {
            pair[0] = r % 2 == 1;
            long[] s0 = stat();
            start.await();
            ns[0] = run(k, o, kk, ld, w[0], x[0], rows, y[0], calls);
            end.await();
            long[] s1 = stat();
            double wall = (s1[2] - s0[2]) / 1e9, otherCores = ((s1[0] - s0[0]) - (s1[1] - s0[1])) / 100.0 / wall;
            if (otherCores > QUIET) {
                loud++;
                continue;
            }
            double per0 = (double) ns[0] / calls, per1 = (double) ns[1] / calls;
            (pair[0] ? both : solo).add(new double[] {per0, per1});
        }
        double soloMed = median(solo, 0), pairMed = median(both, 0), pairMed1 = median(both, 1);
        double ops = (double) o * kk * ld;
        System.out.printf(Locale.ROOT, "quiet rounds: solo %d, pair %d (%d loud rounds dropped)%n", solo.size(), both.size(), loud);
        System.out.printf(Locale.ROOT, "solo: %.1f us per call (%.1f G-ops/s)%n", soloMed / 1e3, ops / soloMed);
        System.out.printf(Locale.ROOT, "pair: thread 0 %.1f us, thread 1 %.1f us per call (%.1f G-ops/s together)%n", pairMed / 1e3,
                pairMed1 / 1e3, ops / pairMed + ops / pairMed1);
        System.out.printf(Locale.ROOT, "pair/solo time per call: %.3f (2 threads can reach at most %.2fx one)%n", pairMed / soloMed,
                2 * soloMed / Math.max(pairMed, pairMed1));
    }

    private static long run(ColumnKernels k, int o, int kk, int ld, float[] w, float[] x, int[] rows, float[] y, int calls) {
        long t0 = System.nanoTime();
        for (int i = 0; i < calls; i++) k.adderForward(o, kk, ld, w, 0, x, rows, y);
        return System.nanoTime() - t0;
    }

    private static double median(List<double[]> v, int i) {
        if (v.isEmpty()) return Double.NaN;
        double[] a = v.stream().mapToDouble(d -> d[i]).sorted().toArray();
        return a[a.length / 2];
    }

    /** {busy jiffies of all CPUs, jiffies of this process, nanoTime}. */
    private static long[] stat() throws IOException {
        String cpu = Files.readAllLines(Path.of("/proc/stat")).get(0);
        String[] f = cpu.trim().split("\\s+");
        long busy = 0;
        for (int i = 1; i <= 8 && i < f.length; i++) if (i != 4 && i != 5) busy += Long.parseLong(f[i]); // all but idle, iowait
        String self = Files.readString(Path.of("/proc/self/stat"));
        String[] g = self.substring(self.lastIndexOf(')') + 2).split(" ");
        long mine = Long.parseLong(g[11]) + Long.parseLong(g[12]); // utime, stime (fields 14, 15)
        return new long[] {busy, mine, System.nanoTime()};
    }
}
