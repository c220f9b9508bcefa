package org.addernet.engine;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Locale;

/**
 * Where a forward's time goes between the engine's threads (issue 12, batch-1 inference): recorded by
 * {@link ThreadPool#parallelFor} and {@link ThreadPool#parallelForClaimed} while a benchmark has set it ({@link ThreadPool#trace}), one slot per call. Per call:
 * the caller's {@code nanoTime} at the dispatch and at the join, and per thread the {@code nanoTime} and the thread's
 * own CPU time at the start and end of its range. CPU times count only the time a thread was on a core, so the work
 * columns hold on a loaded machine too; the wall columns (wake-up, join wait, serial gaps) do not, read their medians.
 *
 * <p>Layout: slot {@code s}, thread {@code t}: index {@code s*threads + t} of the per-thread arrays. Each entry is
 * written by one thread only; the caller reads them after the join of the last call. For fixed-share calls the pool's remaining count orders the
 * workers' writes before the join; in a claimed call a worker's range end may be written just after it (the call
 * ends when every task is done, not every thread), so that call's last range end can read slightly late.
 */
public final class HandOffTrace {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private final int threads, capacity;
    private final boolean[] dispatched;
    private final long[] dispatchNs, joinNs, callerCpuAtDispatch;
    private final long[] startNs, endNs, startCpu, endCpu;
    private int slots;
    /** Per forward: first slot, slot after the last; wall and caller CPU at its start and end. */
    private final int maxForwards;
    private final int[] fwdFirst, fwdEnd;
    private final long[] fwdStartNs, fwdEndNs, fwdStartCpu, fwdEndCpu;
    private int forwards;

    public HandOffTrace(int threads, int capacity, int maxForwards) {
        if (!THREADS.isCurrentThreadCpuTimeSupported()) throw new IllegalStateException("this JVM reports no thread CPU time");
        THREADS.setThreadCpuTimeEnabled(true);
        this.threads = threads;
        this.capacity = capacity;
        dispatched = new boolean[capacity];
        dispatchNs = new long[capacity];
        joinNs = new long[capacity];
        callerCpuAtDispatch = new long[capacity];
        startNs = new long[capacity * threads];
        endNs = new long[capacity * threads];
        startCpu = new long[capacity * threads];
        endCpu = new long[capacity * threads];
        this.maxForwards = maxForwards;
        fwdFirst = new int[maxForwards];
        fwdEnd = new int[maxForwards];
        fwdStartNs = new long[maxForwards];
        fwdEndNs = new long[maxForwards];
        fwdStartCpu = new long[maxForwards];
        fwdEndCpu = new long[maxForwards];
    }

    int threads() {
        return threads;
    }

    private static long cpu() {
        return THREADS.getCurrentThreadCpuTime();
    }

    /** A new call's slot (-1 when full), {@code handedOff}: the workers take part (else it runs inline on the caller). */
    int begin(boolean handedOff) {
        if (slots >= capacity) return -1;
        int s = slots++;
        dispatched[s] = handedOff;
        callerCpuAtDispatch[s] = cpu();
        dispatchNs[s] = System.nanoTime();
        for (int t = 0; t < threads; t++) startNs[s * threads + t] = endNs[s * threads + t] = -1;
        return s;
    }

    void rangeStart(int s, int t) {
        startCpu[s * threads + t] = cpu();
        startNs[s * threads + t] = System.nanoTime();
    }

    void rangeEnd(int s, int t) {
        endNs[s * threads + t] = System.nanoTime();
        endCpu[s * threads + t] = cpu();
    }

    void joined(int s) {
        joinNs[s] = System.nanoTime();
    }

    /** Marks the start of a forward (from the thread that runs it). */
    public void forwardStart() {
        if (forwards >= maxForwards) return;
        fwdFirst[forwards] = slots;
        fwdStartCpu[forwards] = cpu();
        fwdStartNs[forwards] = System.nanoTime();
    }

    /** Marks the end of the forward begun by {@link #forwardStart}. */
    public void forwardEnd() {
        if (forwards >= maxForwards) return;
        fwdEndNs[forwards] = System.nanoTime();
        fwdEndCpu[forwards] = cpu();
        fwdEnd[forwards] = slots;
        forwards++;
    }

    private static double median(double[] v) {
        double[] a = v.clone();
        Arrays.sort(a);
        return a.length == 0 ? Double.NaN : a[a.length / 2];
    }

    /**
     * Per call of a forward (every recorded forward made the same calls; the first one is left out), medians over the
     * forwards in microseconds: {@code span} dispatch to join (wall), {@code work0} / {@code work1+} the CPU time of the
     * caller's range and the longest worker range, {@code minwork} the smaller of the two (a side that
     * spins inside the call counts that spin as work: the smaller side is the nearer to the work alone), {@code wake} dispatch to the last worker's start (wall), {@code wait}
     * the caller's end of range to the join (wall), {@code gap} the wall time on the caller since the previous call's
     * join (or the forward's start): serial work; then per forward the totals. Calls that ran inline are marked.
     */
    public void print(PrintStream out) {
        int first = 1, n = forwards - first;
        if (n < 1) {
            out.println("hand-off trace: no complete forward recorded");
            return;
        }
        int calls = fwdEnd[first] - fwdFirst[first];
        for (int f = first; f < forwards; f++) {
            if (fwdEnd[f] - fwdFirst[f] != calls || fwdEnd[f] >= capacity) {
                n = f - first;
                break;
            }
        }
        if (n < 1) {
            out.println("hand-off trace: forwards made different calls");
            return;
        }
        out.printf(Locale.ROOT, "hand-off trace, %d threads, %d forwards, %d parallel calls each (us, medians over forwards)%n", threads, n, calls);
        out.println("call  kind    span   work0  work1+  minwork   wake   wait    gap  gapcpu0");
        double[][] cols = new double[8][n];
        double[] totSpan = new double[n], totGap = new double[n], totWork0 = new double[n], totWork1 = new double[n], totWake = new double[n],
                totWait = new double[n], tail = new double[n], wall = new double[n], callerCpu = new double[n];
        for (int c = 0; c < calls; c++) {
            boolean handed = false;
            for (int i = 0; i < n; i++) {
                int f = first + i, s = fwdFirst[f] + c;
                handed = dispatched[s];
                long prevJoin = c == 0 ? fwdStartNs[f] : joinNs[s - 1];
                double span = (joinNs[s] - dispatchNs[s]) / 1e3;
                double work0 = (endCpu[s * threads] - startCpu[s * threads]) / 1e3, work1 = 0, wake = 0;
                for (int t = 1; t < threads && handed; t++) {
                    int j = s * threads + t;
                    if (startNs[j] < 0) continue; // an empty range
                    work1 = Math.max(work1, (endCpu[j] - startCpu[j]) / 1e3);
                    wake = Math.max(wake, (startNs[j] - dispatchNs[s]) / 1e3);
                }
                double wait = (joinNs[s] - endNs[s * threads]) / 1e3, gap = (dispatchNs[s] - prevJoin) / 1e3;
                double gapCpu = c == 0 ? Double.NaN : (callerCpuAtDispatch[s] - endCpu[(s - 1) * threads]) / 1e3;
                cols[0][i] = span;
                cols[1][i] = work0;
                cols[2][i] = work1;
                cols[3][i] = wake;
                cols[4][i] = wait;
                cols[5][i] = gap;
                cols[6][i] = gapCpu;
                cols[7][i] = handed ? Math.min(work0, work1) : work0;
                totSpan[i] += span;
                totGap[i] += gap;
                totWork0[i] += work0;
                totWork1[i] += work1;
                totWake[i] += wake;
                totWait[i] += wait;
            }
            out.printf(Locale.ROOT, "%4d  %-6s %6.1f  %6.1f  %6.1f  %7.1f  %5.1f  %5.1f  %5.1f  %6.1f%n", c, handed ? "handed" : "inline",
                    median(cols[0]), median(cols[1]), median(cols[2]), median(cols[7]), median(cols[3]), median(cols[4]), median(cols[5]), median(cols[6]));
        }
        for (int i = 0; i < n; i++) {
            int f = first + i;
            long lastJoin = calls == 0 ? fwdStartNs[f] : joinNs[fwdFirst[f] + calls - 1];
            tail[i] = (fwdEndNs[f] - lastJoin) / 1e3;
            wall[i] = (fwdEndNs[f] - fwdStartNs[f]) / 1e3;
            callerCpu[i] = (fwdEndCpu[f] - fwdStartCpu[f]) / 1e3;
        }
        out.printf(Locale.ROOT, "per forward: wall %.1f = calls %.1f + serial %.1f (gaps) + %.1f (after the last call); caller CPU %.1f;"
                        + " in the calls: caller work %.1f, longest worker work %.1f, wake-ups %.1f, caller waits %.1f%n",
                median(wall), median(totSpan), median(totGap), median(tail), median(callerCpu), median(totWork0), median(totWork1),
                median(totWake), median(totWait));
    }
}
