package org.addernet.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.addernet.train.Bf16;
import org.apache.spark.TaskContext;

/**
 * Job B's slice sums begun in job A, at W = 2 (issue 8). A step's two jobs leave a gap: job A ends with its slowest
 * task, and until then the task that finished first has nothing to do, while job B then starts by fetching the
 * other worker's gradient slice (most of its time at ResNet-50 size). So a job A task whose own gradient blocks are
 * stored goes on, for each slice this executor owns (it keeps the slice's master weights: job B's task for it will
 * run here), to fetch the other worker's blocks of that slice as that worker's backward puts them, and stores each
 * block's sum {@code s} (fp32) beside them. Job B's task q then takes the finished blocks from here and fetches and
 * adds only the others.
 *
 * <p>The bits are job B's own: at W = 2 the tree over the workers is one addition, and float addition is
 * commutative bit for bit, so {@code own + other} is the sum job B would form (under {@code wire=bf16} both operands
 * are the decoded bf16 blocks, as there). Only at W = 2: with more workers the tree's association needs every
 * operand in order, which no single early task has.
 *
 * <p>A job A task waits for the other worker at most {@link #waitNanos}: the two tasks normally run at once (the
 * step waits for W free slots first), but a retried task may not, and job B does the rest anyway. Each job A task
 * stores, after its gradient blocks, a marker {@code a} with its sample count: once it is there, a block not there
 * will not come (a worker without samples puts none).
 */
final class EarlySums {
    /** Test hook: false makes job A sum nothing early (job B then sums every block itself). */
    static volatile boolean enabled = true;
    /** Test hook: at most this many blocks of a slice are summed early (job B fetches the rest). */
    static volatile int maxBlocks = Integer.MAX_VALUE;
    /** Test hook: blocks this JVM summed in job A. */
    static final AtomicLong SUMMED = new AtomicLong();
    /** Test hook: blocks of this JVM that job B took already summed. */
    static final AtomicLong TAKEN = new AtomicLong();
    /** Per run and slice, the (generation, version) some task of this JVM already sums. */
    private static final Map<String, String> CLAIMED = new ConcurrentHashMap<>();

    private EarlySums() {}

    /** Name of job A task p's marker (its count of samples). */
    static String marker(ShardedSteps.Layout l, int gen, long version, int p) {
        return l.name("a", gen, version, p);
    }

    /** Name of slice q's block c summed in job A. */
    static String sum(ShardedSteps.Layout l, int gen, long version, int q, int c) {
        return l.name("s", gen, version, q, c);
    }

    /** The longest a job A task waits for the other worker's blocks: twice its own run so far, at least 5 s. */
    static long waitNanos(long ownNanos) {
        return Math.max(5_000_000_000L, 2 * ownNanos);
    }

    /**
     * Job A, task {@code p}, after its gradient blocks and marker are stored: sums the slices this executor owns with
     * the other worker's blocks as they come, until all are summed, the other's marker says no more will come, or
     * {@code waitNanos} passed. Returns the floats summed.
     */
    static long sumOwnedSlices(ShardedSteps.Layout l, int gen, long version, int p, long waitNanos, TaskContext ctx) {
        if (!enabled || l.workers() != 2) return 0;
        long deadline = System.nanoTime() + waitNanos, floats = 0;
        for (int q = 0; q < 2; q++) {
            if (!StateBlocks.isKept(l.slot("w", q), l.name("w", gen, version, q))) continue; // job B's task q runs elsewhere
            String at = gen + "_" + version;
            if (at.equals(CLAIMED.put(l.run() + "_" + q, at))) continue; // the other task of this JVM sums it
            floats += sumSlice(l, gen, version, p, 1 - p, q, deadline, ctx);
        }
        return floats;
    }

    private static long sumSlice(ShardedSteps.Layout l, int gen, long version, int own, int other, int q, long deadline, TaskContext ctx) {
        List<Integer> pending = new ArrayList<>();
        for (int c = 0; c < Math.min(l.chunks(q), maxBlocks); c++) pending.add(c);
        String[] names = new String[pending.size() + 1];
        long floats = 0, pause = 100_000;
        while (!pending.isEmpty()) {
            names[0] = marker(l, gen, version, other); // asked first: when it is there, so are all its blocks
            for (int i = 0; i < pending.size(); i++) names[1 + i] = l.name("g", gen, version, other, q, pending.get(i));
            boolean[] there = StateBlocks.stored(java.util.Arrays.copyOf(names, 1 + pending.size()));
            List<Integer> left = new ArrayList<>();
            for (int i = 0; i < pending.size(); i++) {
                int c = pending.get(i);
                if (there[1 + i] && sumBlock(l, gen, version, own, other, q, c)) floats += l.blockLength(q, c);
                else left.add(c);
            }
            if (left.size() == pending.size()) { // nothing new: the other is still computing, or it will put nothing
                if (there[0] || System.nanoTime() > deadline) break;
                if (ctx != null) ctx.killTaskIfInterrupted();
                LockSupport.parkNanos(pause);
                pause = Math.min(2 * pause, 5_000_000);
            }
            pending = left;
        }
        return floats;
    }

    /** Block c of slice q: this task's own (stored here) plus the other worker's, stored as {@code s}. */
    private static boolean sumBlock(ShardedSteps.Layout l, int gen, long version, int own, int other, int q, int c) {
        boolean bf16 = l.bf16();
        int unit = bf16 ? Bf16.BYTES : Float.BYTES, n = l.blockLength(q, c);
        float[] a = new float[n];
        try (StateBlocks.Held h = StateBlocks.local(l.name("g", gen, version, own, q, c), (long) n * unit)) {
            if (h == null) return false; // not stored here (cannot happen: this task just put it); job B sums it
            ShardedSteps.ReduceUpdateTask.decodeInto(h.bytes, a, 0, bf16);
        }
        StateBlocks.readAll(List.of(new StateBlocks.Read(l.name("g", gen, version, other, q, c), (long) n * unit, unit,
                (b, i) -> ShardedSteps.ReduceUpdateTask.addRange(a, i, b.remaining() / unit, b, 0, bf16))));
        StateBlocks.putFloats(sum(l, gen, version, q, c), a, 0, n);
        SUMMED.incrementAndGet();
        return true;
    }

    /**
     * Job B, task q: the blocks of slice q summed in job A and stored here, decoded into {@code into} (block c from
     * float {@code c * chunk}); {@code have[c]} says which. Returns the floats found.
     */
    static long take(ShardedSteps.Layout l, int gen, long version, int q, float[] into, boolean[] have) {
        long floats = 0;
        for (int c = 0; c < have.length; c++) {
            int n = l.blockLength(q, c);
            try (StateBlocks.Held h = StateBlocks.local(sum(l, gen, version, q, c), (long) n * Float.BYTES)) {
                if (h == null) continue;
                ShardedSteps.ReduceUpdateTask.decodeInto(h.bytes, into, c * l.chunk(), false);
            }
            have[c] = true;
            floats += n;
        }
        return floats;
    }
}
