package org.addernet.kernels;

import java.util.Arrays;
import org.addernet.engine.ThreadPool;

/**
 * The {@link ConvEngine}: column form per chunk of samples ({@link Im2col}), microkernels from
 * {@link ColumnKernels}, threads from {@link ThreadPool#parallelFor}.
 *
 * <p><b>Same bits for any thread count.</b> The work plan ({@link #plan}) is a function of the geometry (and of the
 * kernels' column multiple) only, never of the thread count: the batch is cut into units ("chunks") of
 * {@code nb} whole samples, so no two units write the same sample of {@code dx}. Stride-1 layers whose shifted
 * maps are at most twice the output use the shifted layout (no im2col copy, see {@link Im2col}), strided layers the
 * same layout on phase planes of the input where a sample fits a piece; the others use
 * an explicit im2col, processed in pieces of at most {@code maxCols} columns (a piece is a range of the global
 * column index {@code q = n*Ho*Wo + pos}, so a huge sample is split by positions). Either way the workspace stays
 * bounded by about {@code budget} floats per thread whatever the layer. The adder input gradient of a stride-1
 * shifted plan runs by taps on the unit's input pixels instead, without the shifted layout's junk columns
 * ({@link #inputGradByTaps}).
 *
 * <p><b>K-chunks.</b> A layer whose K x columns matrix would squeeze the pieces (ResNet-18/50 at 224) gets a
 * chunked plan ({@link Plan#kc} = {@link #KC} taps, {@link #KC_SHIFTED} in the shifted layout): each piece walks K
 * in chunks and holds x and dx for one chunk only, so its pieces are sized by {@code 2*kc + O} floats per column
 * (the shifted layout: {@code 2*C + kc + O}) instead of {@code 2*K + O}. An explicit piece larger than {@link #CACHE_FLOATS} is walked in chunks too, on
 * unchanged pieces. Forward, input and filter gradients keep their bits on the same pieces (see
 * {@link #forwardChunked} and {@link #backwardChunked}); only the filter gradients of layers whose pieces grew
 * are summed in a different split than before the chunked plans existed.
 *
 * <p>Every output of the forward and every input-gradient value is one sum in a fixed order over its own column,
 * so it does not matter which unit or thread computes it; the forward may therefore also cut a small batch by
 * output positions to keep every thread busy. The filter gradient sums over all columns: its units are cut
 * into {@code groups} contiguous groups (a fixed number, {@link #GROUPS} or fewer); a group is always run by one
 * thread in unit order into its own partial, and the partials are then added in group order (in parallel over
 * slices of the filter index). Which thread runs a group never changes its bits.
 *
 * <p>Each thread owns a column workspace, allocated once and grown on demand; the group partials are shared by
 * index. Also accepts {@code dw == null} in the backward calls (filter gradient not needed); benchmarks use it
 * to time the input gradient alone. Calls are serialized ({@code synchronized}): the workspaces are shared.
 */
final class ColumnConvEngine implements ConvEngine {
    /** Floats of column workspace per thread: 8 MB. */
    static final int DEFAULT_BUDGET = 1 << 21;
    /**
     * Columns per chunk we aim for: the filter gradient does 16 lane-ordered horizontal sums per 4x4 block
     * per chunk, which costs ~10% at 2048 columns.
     */
    static final int DEFAULT_TARGET_COLS = 2048;
    /** Most groups of the filter-gradient reduction: threads beyond this many idle in the backward. */
    static final int GROUPS = 16;
    /**
     * Fewest units a batch is cut into (if it has that many samples and {@link #MIN_UNIT_COLS} columns per unit),
     * so that a small shard still spreads over a few threads although the plan cannot know the thread count.
     */
    static final int MIN_UNITS = 4;
    static final int MIN_UNIT_COLS = 128;
    /** A small unit count is rounded up to a multiple of this, see {@link #plan}. */
    static final int UNIT_MULTIPLE = 4;
    /**
     * Rows of a K-chunk (a multiple of {@link ColumnKernels#KB}) on layers whose K x columns matrix would not fit
     * the budget (ResNet-18/50's K = 1152 ... 4608): 64 taps x 2048 columns of x are 512 KB, half of a 1 MB L2,
     * reused by every filter; 64 taps x O filter values (128 KB at O = 512) are reused by every column panel.
     */
    static final int KC = 64;
    /**
     * K-chunk rows of a chunked shifted plan: its x is packed once for all channels, so a chunk only bounds dx
     * (kc x columns); larger chunks re-read the dy panel of a column block fewer times in the input gradient,
     * whose strided rows miss the L2 at ImageNet widths (process CPU time under load, 1 thread, ResNet-18's 3x3
     * shapes: 64-row chunks made the input gradient of 28x28x128 .. 7x7x512 up to 40 % slower than before the
     * chunked plans, 128 recovered most of it, 256 all; the filter gradient is the same with 64, 128 or 256).
     */
    static final int KC_SHIFTED = 256;
    /** Floats of x an explicit piece may span before it is walked in K-chunks: 512 KB, half of L2. */
    static final int CACHE_FLOATS = 1 << 17;
    /** Floats of filter-gradient partials at most (64 MB): a layer with a huge O*K gets fewer groups. */
    static final int PARTIAL_BUDGET = 1 << 24;
    /** Edge of a transpose tile: 32 x 32 floats, 4 KB each way. */
    private static final int TRANSPOSE_TILE = 32;

    private final ThreadPool pool;
    private final ColumnKernels kernels;
    private final int budget;
    private final int targetCols;
    private final int cacheFloats;
    /** Whether strided layers may take the phase-split shifted layout (see {@link #plan}). */
    private final boolean phased;
    private final Workspace[] spaces;
    /** The transposed filters (K x O) for the input gradients, shared read-only by the threads. */
    private float[] wt = new float[0];
    /** The groups' partial filter gradients (O x K each), grown on demand. */
    private float[][] partials = new float[0][];

    /** One thread's buffers; {@code xcol} is the explicit im2col matrix (or a K-chunk of it) or the shifted buffer. */
    private static final class Workspace {
        float[] xcol = new float[0], ycol = new float[0], dxcol = new float[0], dxpad = new float[0];
        /** The input gradient by taps: x by channel ({@link Im2col#packChannels}) and one tap's dy ({@link Im2col#dyTap}). */
        float[] xc = new float[0], dyt = new float[0];
        int[] blockRow;
        int[] xRow = new int[0], yRow = new int[0], xRowAll = new int[0], cRow = new int[0];
    }

    /**
     * How a batch is cut: chunks of {@code perChunk} samples; {@code shifted} layout (one piece per chunk) or
     * explicit im2col in pieces of at most {@code maxCols} columns; the filter gradient sums the chunks in
     * {@code groups} contiguous groups, group {@code i} holding chunks {@code [i*chunks/groups, (i+1)*chunks/groups)}.
     * A piece's K taps are walked in K-chunks of {@code kc} rows ({@code kc == K}: one chunk, the whole matrix).
     */
    record Plan(boolean shifted, int perChunk, int chunks, int maxCols, int groups, int kc) {
        boolean chunked(ConvGeometry g) {
            return kc < g.kk();
        }

        int groupStart(int i) {
            return (int) ((long) i * chunks / groups);
        }
    }

    ColumnConvEngine(ThreadPool pool, ColumnKernels kernels) {
        this(pool, kernels, DEFAULT_BUDGET, DEFAULT_TARGET_COLS);
    }

    ColumnConvEngine(ThreadPool pool, ColumnKernels kernels, int budget, int targetCols) {
        this(pool, kernels, budget, targetCols, CACHE_FLOATS);
    }

    /** {@code cacheFloats}: see {@link #CACHE_FLOATS}; tests vary it to check that K-chunks keep every bit. */
    ColumnConvEngine(ThreadPool pool, ColumnKernels kernels, int budget, int targetCols, int cacheFloats) {
        this(pool, kernels, budget, targetCols, cacheFloats, true);
    }

    /**
     * {@code phased = false}: strided layers keep the explicit im2col plans they had before the phase-split layout
     * (tests compare the two bit for bit and keep the explicit stride-2 paths covered).
     */
    ColumnConvEngine(ThreadPool pool, ColumnKernels kernels, int budget, int targetCols, int cacheFloats, boolean phased) {
        this.phased = phased;
        this.cacheFloats = cacheFloats;
        this.pool = pool;
        this.kernels = kernels;
        this.budget = budget;
        this.targetCols = targetCols;
        this.spaces = new Workspace[pool.threads()];
        for (int t = 0; t < spaces.length; t++) spaces[t] = new Workspace();
    }

    @Override
    public String kernelName() {
        return kernels.name();
    }

    /** The work plan: a function of the geometry and the kernels' column multiple, never of the thread count. */
    Plan plan(ConvGeometry g) {
        // A stride-2 (or larger) layer takes the phase-split shifted layout where its samples fit a piece (see
        // Im2col), and otherwise exactly the explicit plan it had before that layout existed (the 7x7 stem at 224).
        if (g.stride() > 1 && phased) {
            Plan split = plan(g, true);
            if (split.shifted()) return split;
        }
        return plan(g, false);
    }

    /** {@link #plan(ConvGeometry)} with ({@code phased}) or without the phase-split layout for strides above 1. */
    private Plan plan(ConvGeometry g, boolean phased) {
        int m = kernels.columnMultiple(), p = g.positions(), n = g.n(), kk = g.kk();
        // The backward holds x, dx (K rows each) and dy (O rows) per column.
        int maxCols = Math.max(m, budget / (2 * kk + g.o()) / m * m);
        int ss = Im2col.shiftedColumns(g);
        boolean pointwise = g.k() == 1 && g.pad() == 0 && g.stride() == 1;
        boolean shiftable = Im2col.shiftedFits(g) && (g.stride() == 1 || phased) && !pointwise
                && !Im2col.fullWindow(g) && ss <= 2 * p;
        boolean shifted = shiftable && roundUp(ss, m) <= maxCols;
        int kc = kk;
        // K-chunking where the whole K x columns matrix squeezes the pieces (fewer than targetCols/2 columns) or
        // keeps a stride-1 layer from its shifted layout: each piece then walks K in chunks of KC (explicit) or
        // KC_SHIFTED rows and holds x and dx for one chunk only (x all channels in the shifted layout, whose rows
        // overlap), so pieces get wide again (fewer lane sums in the filter gradient) and a chunk's x and filters
        // stay in cache. Layers the old budget held comfortably (ResNet-20, LeNet) keep exactly their old plan,
        // hence their bits.
        if (kk > KC && ((shiftable && !shifted) || maxCols < targetCols / 2)) {
            int planes = Im2col.shiftedPlanes(g), slack = 2 * planes * Im2col.shiftedChannelStride(g, 0);
            int shiftedCols = (budget - slack) / (2 * planes + KC_SHIFTED + g.o()) / m * m;
            shifted = shiftable && roundUp(ss, m) <= shiftedCols;
            kc = shifted ? KC_SHIFTED : KC;
            maxCols = Math.max(m, shifted ? shiftedCols : budget / (2 * kc + g.o()) / m * m);
        }
        int perSample = shifted ? ss : p;
        int want = Math.min(targetCols, maxCols);
        int nb = Math.max(1, want / perSample);
        if (shifted) nb = Math.max(1, Math.min(nb, maxCols / perSample));
        int chunks = (n + nb - 1) / nb;
        long cols = (long) n * perSample;
        int most = (int) Math.max(chunks, Math.min(n, cols / MIN_UNIT_COLS));
        chunks = Math.min(most, Math.max(chunks, MIN_UNITS));
        // Below GROUPS units each unit is a group: a multiple of 4 groups splits evenly over 1, 2 or 4 threads.
        if (chunks > 1 && chunks < GROUPS) chunks = Math.min(most, roundUp(chunks, UNIT_MULTIPLE));
        // Even chunks: every chunk nb samples but the last.
        nb = (n + chunks - 1) / chunks;
        chunks = (n + nb - 1) / nb;
        // Partials are O*K floats each: a huge filter gets fewer groups, a multiple of 4 again when possible.
        int fit = Math.max(1, PARTIAL_BUDGET / g.filterSize());
        if (fit >= UNIT_MULTIPLE) fit = fit / UNIT_MULTIPLE * UNIT_MULTIPLE;
        int groups = Math.min(Math.min(chunks, GROUPS), fit);
        int pieceCols = Math.min(maxCols, roundUp(nb * perSample, m));
        // An explicit piece whose K x cols matrix overflows L2 (ResNet-20's stride-2 layers, the 7x7 stem) walks K
        // in chunks too, on the same pieces: its filter gradient re-reads x once per 4 filters, and the chunked
        // walk gives every op the same bits on the same pieces (see backwardChunked).
        if (!shifted && kk > KC && (long) kk * pieceCols > cacheFloats) kc = KC;
        // A phase-split piece likewise (ResNet-18's 56x56 -> 28x28 layer: K = 576 x 848 columns): its input gradient
        // then holds dx for one chunk of KC_SHIFTED taps, not 2 MB of all taps. Stride-1 plans are left as they were.
        if (shifted && g.stride() > 1 && kk > KC_SHIFTED && (long) kk * pieceCols > cacheFloats) kc = KC_SHIFTED;
        return new Plan(shifted, nb, chunks, pieceCols, groups, kc);
    }

    private int roundUp(int cols) {
        return roundUp(cols, kernels.columnMultiple());
    }

    private static int roundUp(int v, int m) {
        return (v + m - 1) / m * m;
    }

    private static float[] grow(float[] a, int size) {
        return a.length >= size ? a : new float[size];
    }

    private static int[] grow(int[] a, int size) {
        return a.length >= size ? a : new int[size];
    }

    /** Row offsets {@code r*ld} of a row-major column matrix. */
    private static void denseRows(int rows, int ld, int[] row) {
        for (int r = 0; r < rows; r++) row[r] = r * ld;
    }

    @Override
    public synchronized void adderForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y) {
        forward(g, x, w, wOff, y, true, null);
    }

    @Override
    public synchronized void convForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y) {
        forward(g, x, w, wOff, y, false, null);
    }

    /** The map is applied by each thread to the outputs it wrote, in the forward's own parallel call. */
    @Override
    public synchronized void adderForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y, OutputMap map) {
        forward(g, x, w, wOff, y, true, map);
    }

    @Override
    public synchronized void convForward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y, OutputMap map) {
        forward(g, x, w, wOff, y, false, map);
    }

    @Override
    public synchronized void adderBackward(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, float[] dx,
                                           float[] dw, int dwOff) {
        backward(g, x, w, wOff, dy, dx, dw, dwOff, true);
    }

    @Override
    public synchronized void convBackward(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, float[] dx,
                                          float[] dw, int dwOff) {
        backward(g, x, w, wOff, dy, dx, dw, dwOff, false);
    }

    private void checkSizes(ConvGeometry g, float[] x, float[] w, int wOff, float[] y) {
        if (x.length < g.inputSize()) throw new IllegalArgumentException("input too short for " + g);
        if (wOff < 0 || w.length - wOff < g.filterSize()) throw new IllegalArgumentException("filters too short for " + g);
        if (y.length < g.outputSize()) throw new IllegalArgumentException("output too short for " + g);
    }

    /**
     * Puts the columns of samples [n0, n1) (shifted) or of the global column range [q0, q1) (explicit) into
     * {@code s.xcol}, sets {@code s.xRow}; returns the leading dimension.
     */
    private int loadColumns(ConvGeometry g, Plan plan, float[] x, int n0, int n1, int q0, int q1, Workspace s) {
        int kk = g.kk();
        s.xRow = grow(s.xRow, kk);
        if (plan.shifted()) {
            int ld = roundUp((n1 - n0) * Im2col.shiftedColumns(g)), cs = Im2col.shiftedChannelStride(g, ld);
            s.xcol = grow(s.xcol, Im2col.shiftedPlanes(g) * cs);
            Im2col.packShifted(g, x, n0, n1, cs, s.xcol);
            Im2col.shiftedRows(g, cs, s.xRow);
            return ld;
        }
        int ld = roundUp(q1 - q0);
        s.xcol = grow(s.xcol, kk * ld);
        Im2col.im2col(g, x, q0, q1, ld, s.xcol);
        denseRows(kk, ld, s.xRow);
        return ld;
    }

    /**
     * Whether the running adder forward's input is all +0 or positive and finite, so its unchunked pieces take
     * {@link ColumnKernels#adderForwardNonNegative} (2 ops per term; the K-chunked pieces of large layers keep
     * {@link ColumnKernels#adderForwardChunk}). Decided from the values alone, so every thread count and piece
     * split takes the same kernels. Set by {@link #forward} (synchronized) before its parallel call, read by its tasks.
     */
    private boolean forwardNonNegative;

    /** Floats per task of {@link #nonNegativeInput}: a 256 KB slice, well above a hand-off's cost. */
    private static final int CHECK_SLICE = 1 << 16;

    /**
     * Whether {@code x[0, n)} is all +0 or positive and finite, in fixed slices over the threads (a whole pass over
     * the input: ~0.2-0.3 ms for ResNet-20's 1M-float first-stage input on one thread, 6-10 % of its forward). The
     * answer depends on the values only.
     */
    private boolean nonNegativeInput(float[] x, int n) {
        int slices = (n + CHECK_SLICE - 1) / CHECK_SLICE;
        if (slices < 2 || pool.threads() == 1) return kernels.nonNegativeFinite(x, 0, n);
        boolean[] ok = new boolean[slices];
        pool.parallelForClaimed(slices, (t, from, to) -> {
            for (int i = from; i < to; i++) ok[i] = kernels.nonNegativeFinite(x, i * CHECK_SLICE, Math.min(n, (i + 1) * CHECK_SLICE));
        });
        for (boolean b : ok) if (!b) return false;
        return true;
    }

    /** The adder forward kernel of the running forward ({@link #forwardNonNegative}). */
    private void adderKernel(int o, int kk, int ld, float[] w, int wOff, float[] x, int[] xRow, float[] y) {
        if (forwardNonNegative) kernels.adderForwardNonNegative(o, kk, ld, w, wOff, x, xRow, y);
        else kernels.adderForward(o, kk, ld, w, wOff, x, xRow, y);
    }

    /** {@code map} (may be null): applied to each chunk's samples, or each piece's columns, by the thread that wrote them. */
    private void forward(ConvGeometry g, float[] x, float[] w, int wOff, float[] y, boolean adder, OutputMap map) {
        checkSizes(g, x, w, wOff, y);
        forwardNonNegative = adder && nonNegativeInput(x, g.inputSize());
        if (map != null) map.check(g);
        Interleave il = adder ? interleave(g) : null;
        if (il != null) {
            forwardInterleaved(g, il, x, w, wOff, y, map);
            return;
        }
        Plan plan = plan(g);
        int p = g.positions(), o = g.o(), kk = g.kk(), n = g.n(), threads = pool.threads();
        if (plan.chunks() >= threads) {
            pool.parallelFor(plan.chunks(), (t, from, to) -> {
                Workspace s = spaces[t];
                for (int c = from; c < to; c++) {
                    int n0 = c * plan.perChunk(), n1 = Math.min(n, n0 + plan.perChunk());
                    int step = plan.shifted() ? (n1 - n0) * p : plan.maxCols();
                    for (int q0 = n0 * p; q0 < n1 * p; q0 += step) {
                        forwardPiece(g, plan, x, w, wOff, y, adder, n0, n1, q0, Math.min(n1 * p, q0 + step), s);
                    }
                    if (map != null) map.applySamples(y, o, p, n0, n1);
                }
            });
            return;
        }
        if (plan.chunks() == 1 && plan.shifted()) {
            forwardShiftedSplit(g, plan, x, w, wOff, y, adder, map);
            return;
        }
        // Fewer units than threads (small batch, batch-1 inference): cut the batch's columns into one explicit
        // piece per thread instead. Each output is the same sum in the same order whichever piece holds it, and
        // the explicit columns hold the same values as the shifted ones, so the bits do not change.
        long total = (long) n * p;
        int m = kernels.columnMultiple();
        int piece = (int) Math.min(maxExplicitCols(g, plan.kc()), roundUp((int) ((total + threads - 1) / threads), m));
        int pieces = (int) ((total + piece - 1) / piece);
        Plan explicit = new Plan(false, n, 1, piece, 1, plan.kc());
        // Pieces taken by whichever thread is free: a late thread holds up nothing it has not taken.
        pool.parallelForClaimed(pieces, (t, from, to) -> {
            Workspace s = spaces[t];
            for (int i = from; i < to; i++) {
                int q0 = i * piece, qe = (int) Math.min(total, (long) q0 + piece);
                forwardPiece(g, explicit, x, w, wOff, y, adder, 0, n, q0, qe, s);
                if (map != null) map.applyColumns(y, o, p, q0, qe);
            }
        });
    }

    /**
     * The forward of a one-unit shifted batch (batch-1 inference of a stride-1 or phase-split layer) on every thread, in one parallel
     * call: block tasks each compute a block of output channels (rows of the filter matrix) over all the shifted columns,
     * or, when the channels do not split evenly into blocks of whole kernel row pairs, a range of the columns (a multiple
     * of the column multiple) for all channels, from the thread's own packed copy of the input into its own output
     * columns, scatter the valid ones and apply {@code map} to them. Channel blocks give every thread the same work and
     * the kernels' widest panels (column ranges of an 8x8 map's 112 columns split 64 + 48); an explicit im2col per
     * thread (the fallback in {@link #forward}) copied k*k times the input, about as long as the sums of a small layer
     * take. Each output is the same sum in the same order whichever block holds it.
     */
    private void forwardShiftedSplit(ConvGeometry g, Plan plan, float[] x, float[] w, int wOff, float[] y,
                                     boolean adder, OutputMap map) {
        int n = g.n(), o = g.o(), kk = g.kk(), threads = pool.threads(), m = kernels.columnMultiple();
        // The shifted buffer as loadColumns lays it out; each thread packs its own copy, below.
        int ld = roundUp(n * Im2col.shiftedColumns(g)), cs = Im2col.shiftedChannelStride(g, ld), size = Im2col.shiftedPlanes(g) * cs;
        Workspace s0 = spaces[0];
        s0.xRow = grow(s0.xRow, kk);
        Im2col.shiftedRows(g, cs, s0.xRow);
        final int[] rows = java.util.Arrays.copyOf(s0.xRow, kk);
        // Wide stride-1 maps (ResNet-20's 32x32 and 16x16) split by ranges of output rows (column pieces), each task
        // packing only the input rows its outputs read (Im2col.packShiftedColumns): thread t's rows are mostly the ones
        // it wrote in the previous layer, so they come from its own cache, where a channel split reads half of every
        // input from the other core. Narrow maps (8x8: 96 columns would split 48 + 48, narrow panels) and phase planes
        // split by channels, from a whole pack per thread.
        boolean local = g.stride() == 1 && ld >= LOCAL_MIN_COLUMNS * threads;
        boolean byRows = o % (2 * threads) == 0 && !columnSplit && !local;
        // Row blocks of whole kernel row pairs, two per thread where the channels allow (a late thread then still
        // takes a share), else one.
        int rowBlocks = !byRows ? 1 : o % (4 * threads) == 0 ? 2 * threads : threads;
        int piece = byRows ? ld : roundUp((ld + threads - 1) / threads, m), pieces = (ld + piece - 1) / piece;
        int blocksTotal = rowBlocks * pieces;
        // Blocks taken one at a time by whichever thread is free (parallelForClaimed), so a late thread holds up at most
        // the block it took. A thread packs the whole input into its own workspace before its first block of the call
        // (each thread at most once: packed[t], touched by thread t only). The pack is a few percent of a block's sums;
        // packing a slice each into one shared buffer made every block wait at a barrier for the other thread's slice
        // (a descheduled packer stalled the call a time slice) and read half the buffer from the other core's cache.
        boolean[] packed = new boolean[threads];
        pool.parallelForClaimed(blocksTotal, (t, from, to) -> {
            Workspace s = spaces[t];
            for (int task = from; task < to; task++) {
                int i = task;
                int rb = i / pieces, r0 = rb * o / rowBlocks, ob = (rb + 1) * o / rowBlocks - r0;
                int c0 = (i % pieces) * piece, len = Math.min(ld, c0 + piece) - c0;
                if (local) {
                    s.xcol = grow(s.xcol, size);
                    Im2col.packShiftedColumns(g, x, n, cs, s.xcol, c0, c0 + len);
                } else if (!packed[t]) {
                    s.xcol = grow(s.xcol, size);
                    Im2col.packShifted(g, x, 0, n, cs, s.xcol);
                    packed[t] = true;
                }
                final float[] xcol = s.xcol;
                s.blockRow = s.blockRow == null || s.blockRow.length < kk ? new int[Math.max(kk, ColumnKernels.KB)] : s.blockRow;
                int[] r = s.blockRow;
                for (int k = 0; k < kk; k++) r[k] = rows[k] + c0;
                s.ycol = grow(s.ycol, ob * len);
                if (adder) adderKernel(ob, kk, len, w, wOff + r0 * kk, xcol, r, s.ycol);
                else kernels.convForward(ob, kk, len, w, wOff + r0 * kk, kk, xcol, r, s.ycol, false);
                scatterShiftedRange(g, s.ycol, len, c0, r0, ob, y, map);
            }
        });
    }

    /** Shifted columns per thread from which a stride-1 one-unit batch splits by output rows, see {@link #forwardShiftedSplit}. */
    static final int LOCAL_MIN_COLUMNS = 128;

    /**
     * Whether a one-unit shifted batch whose output channels split into row blocks takes column pieces instead: no,
     * unless {@code -Daddernet.split=columns} (an A/B on a quiet machine; either way gives the same bits). Measured
     * in thread CPU time per call (bench-eval --trace, 2 threads, 3 alternating JVMs each way, on a loaded machine):
     * column pieces cost 5-8 % more than row blocks on ResNet-20's 32x32 layers (1104 columns, 552 a thread), about
     * the same on 16x16 and 45 % more on 8x8 (96 columns: the narrow panels). Layers whose channels do not split into
     * row blocks always take column pieces.
     */
    private boolean columnSplit = columnSplit(System.getProperty("addernet.split", "rows"));

    /** {@code rows} or {@code columns}, see {@link #columnSplit}; tests set each. */
    void splitMode(String mode) {
        this.columnSplit = columnSplit(mode);
    }

    private static boolean columnSplit(String mode) {
        if (!mode.equals("rows") && !mode.equals("columns")) throw new IllegalArgumentException("addernet.split: " + mode + " (rows or columns)");
        return mode.equals("columns");
    }

    /**
     * {@link Im2col#scatterShifted} for the shifted columns {@code [c0, c0 + len)} of a one-unit batch, output channels
     * {@code [r0, r0 + ob)} (ycol row {@code r - r0}), each copied segment then mapped by {@code map} (if not null).
     */
    private static void scatterShiftedRange(ConvGeometry g, float[] ycol, int len, int c0, int r0, int ob, float[] y, OutputMap map) {
        int o = g.o(), ho = g.ho(), wo = g.wo(), wq = Im2col.rowStride(g), ss = Im2col.shiftedColumns(g), c1 = c0 + len;
        for (int mi = c0 / ss, last = Math.min(g.n() - 1, (c1 - 1) / ss); mi <= last; mi++) {
            for (int i = 0; i < ho; i++) {
                int q0 = Math.max(c0, mi * ss + i * wq), q1 = Math.min(c1, mi * ss + i * wq + wo);
                if (q0 >= q1) continue;
                int j0 = q0 - (mi * ss + i * wq);
                for (int r = 0; r < ob; r++) {
                    int dst = (mi * o + r0 + r) * ho * wo + i * wo + j0;
                    System.arraycopy(ycol, r * len + q0 - c0, y, dst, q1 - q0);
                    if (map != null) map.apply(y, dst, q1 - q0, r0 + r);
                }
            }
        }
    }

    /**
     * The cut of a lane-interleaved adder forward ({@link Im2col}): {@code groups} groups of {@code lanes} samples, each
     * in {@code tiles} tiles of output rows (tile t holds rows {@code [rowStart(t), rowStart(t + 1))}).
     */
    record Interleave(int lanes, int groups, int tiles) {
        int rowStart(ConvGeometry g, int t) {
            return (int) ((long) t * g.ho() / tiles);
        }
    }

    /**
     * Whether the adder forward takes the lane-interleaved layout, and its cut; null where it keeps the plan's layout.
     * Taken by stride-1 layers of the shifted kind where it computes at least 5 % fewer columns than the shifted layout,
     * i.e. where the batch fills its lane groups well and the maps are small enough for the shifted layout's padding
     * rows and columns to matter: ResNet-20's 16x16 and 8x8 maps at batch 64 (271 column groups per 256 outputs instead
     * of 289, 71 per 64 instead of 81), ResNet-18's 14x14 and 7x7 at batch 32 (209 / 225, 55 / 64). The 32x32, 56x56
     * and 28x28 maps (2-4 % fewer) ran as fast or slower than shifted (the pack and scatter are scalar), and batch-1
     * inference (16 times the columns) keeps the shifted layout too. Tiles keep a tile's x and y within the workspace budget and
     * give at least {@link #MIN_UNITS} tasks where there are rows for them. Forward outputs are sums over their own
     * column in a fixed order, so the layout and the cut change no bit; the backward keeps {@link #plan}.
     */
    Interleave interleave(ConvGeometry g) {
        int lanes = kernels.columnMultiple(), n = g.n(), ho = g.ho(), wq = Im2col.rowStride(g);
        boolean pointwise = g.k() == 1 && g.pad() == 0;
        if (g.stride() != 1 || !Im2col.shiftedFits(g) || pointwise || Im2col.fullWindow(g)) return null;
        int groups = (n + lanes - 1) / lanes;
        // At least 5 % fewer columns than the shifted layout: its pack and scatter cost a few percent more.
        if (20L * groups * Im2col.interleavedColumns(g, 0, ho, lanes) > 19L * n * Im2col.shiftedColumns(g)) return null;
        // A tile of r output rows holds C planes of (r + k - 1) padded rows and O rows of r*Wq column groups.
        long fixed = (long) g.c() * ((g.k() - 1) * wq + g.pad()) * lanes, perRow = (long) (g.c() + g.o()) * wq * lanes;
        int rows = (int) Math.max(1, Math.min(ho, (budget - fixed) / perRow));
        int tiles = Math.max((ho + rows - 1) / rows, Math.min(ho, (MIN_UNITS + groups - 1) / groups));
        return new Interleave(lanes, groups, tiles);
    }

    /**
     * The lane-interleaved adder forward: each task packs one tile (a lane group's input rows for a range of output
     * rows) into its thread's workspace, runs the adder kernel over the tile's columns and scatters (and maps) the
     * valid outputs. Tasks are claimed one at a time by whichever thread is free. The buffer is a humongous array
     * with its tap rows on 64-byte boundaries where the JVM lets that be known ({@link Alignment}): 1 thread, thread CPU
     * time, the same JVM alternating, 9 rounds on a loaded machine, ResNet-20/-18 8x8, 7x7 and 56x56 maps: 22.7, 23.3,
     * 24.2 useful G-ops per CPU-second aligned against 18.9-19.3, 21.0-21.3, 20.4-20.7 at two unaligned offsets.
     */
    private void forwardInterleaved(ConvGeometry g, Interleave il, float[] x, float[] w, int wOff, float[] y, OutputMap map) {
        int o = g.o(), kk = g.kk(), lanes = il.lanes(), tiles = il.tiles();
        pool.parallelForClaimed(il.groups() * tiles, (t, from, to) -> {
            Workspace s = spaces[t];
            for (int task = from; task < to; task++) {
                int n0 = task / tiles * lanes, i0 = il.rowStart(g, task % tiles), i1 = il.rowStart(g, task % tiles + 1);
                int cs = Im2col.interleavedChannelStride(g, i0, i1, lanes), ld = Im2col.interleavedColumns(g, i0, i1, lanes);
                s.xcol = Alignment.grow(s.xcol, g.c() * cs);
                s.xRow = grow(s.xRow, kk);
                s.ycol = grow(s.ycol, o * ld);
                Im2col.packInterleaved(g, x, n0, lanes, i0, i1, Alignment.OFFSET, cs, s.xcol);
                Im2col.interleavedRows(g, Alignment.OFFSET, cs, lanes, s.xRow);
                adderKernel(o, kk, ld, w, wOff, s.xcol, s.xRow, s.ycol);
                Im2col.scatterInterleaved(g, s.ycol, ld, n0, lanes, i0, i1, y, map);
            }
        });
    }

    /** Columns of an explicit im2col piece that fit the workspace budget (the forward holds kc rows of x and y). */
    private int maxExplicitCols(ConvGeometry g, int kc) {
        int m = kernels.columnMultiple();
        return Math.max(m, budget / (kc + g.o()) / m * m);
    }

    /** The forward of one piece: columns of samples [n0, n1) (shifted) or of the column range [q0, qe) (explicit). */
    private void forwardPiece(ConvGeometry g, Plan plan, float[] x, float[] w, int wOff, float[] y,
                              boolean adder, int n0, int n1, int q0, int qe, Workspace s) {
        int o = g.o(), kk = g.kk();
        // The shifted layout needs no K-chunks in the forward: its K rows overlap, so a column panel of x is
        // C x (panel + k*Wq) floats (about 160 KB at C = 512), not K x panel; it runs unchunked on the same pieces.
        if (plan.chunked(g) && !plan.shifted()) {
            forwardChunked(g, plan, x, w, wOff, y, adder, n0, n1, q0, qe, s);
            return;
        }
        int ld = loadColumns(g, plan, x, n0, n1, q0, qe, s);
        s.ycol = grow(s.ycol, o * ld);
        if (adder) adderKernel(o, kk, ld, w, wOff, s.xcol, s.xRow, s.ycol);
        else kernels.convForward(o, kk, ld, w, wOff, kk, s.xcol, s.xRow, s.ycol, false);
        if (plan.shifted()) Im2col.scatterShifted(g, s.ycol, ld, n0, n1, y);
        else Im2col.scatterOutput(g, s.ycol, q0, qe, ld, y);
    }

    /**
     * Sets up a K-chunked piece: the shifted layout packs all channels once ({@code s.xRowAll} the rows of all K
     * taps); the explicit one only sizes its buffer, filled per chunk by {@link #loadChunk}. Returns ld.
     */
    private int startChunked(ConvGeometry g, Plan plan, float[] x, int n0, int n1, int q0, int qe, Workspace s) {
        if (plan.shifted()) {
            int ld = roundUp((n1 - n0) * Im2col.shiftedColumns(g)), cs = Im2col.shiftedChannelStride(g, ld);
            s.xcol = grow(s.xcol, Im2col.shiftedPlanes(g) * cs);
            s.xRowAll = grow(s.xRowAll, g.kk());
            Im2col.packShifted(g, x, n0, n1, cs, s.xcol);
            Im2col.shiftedRows(g, cs, s.xRowAll);
            return ld;
        }
        int ld = roundUp(qe - q0);
        s.xcol = grow(s.xcol, plan.kc() * ld);
        return ld;
    }

    /** Rows {@code [k0, k0 + kb)} of x for a chunked piece: {@code s.xRow[0..kb)} (and the explicit im2col rows). */
    private void loadChunk(ConvGeometry g, Plan plan, float[] x, int q0, int qe, int ld, int k0, int kb, Workspace s) {
        s.xRow = grow(s.xRow, plan.kc());
        if (plan.shifted()) {
            System.arraycopy(s.xRowAll, k0, s.xRow, 0, kb);
        } else {
            Im2col.im2colRows(g, x, q0, qe, ld, k0, k0 + kb, s.xcol);
            denseRows(kb, ld, s.xRow);
        }
    }

    /**
     * The forward of one explicit piece, K walked in chunks of {@code plan.kc()} taps (a multiple of KB): the adder adds
     * each chunk's block sums to positive totals in {@code ycol} and the scatter stores {@code 0 - t}; the conv
     * adds each KB block's product to {@code ycol} as in the unchunked path. Every output is the same sum in the
     * same order as without chunks (see {@link ColumnKernels#adderForwardChunk}).
     */
    private void forwardChunked(ConvGeometry g, Plan plan, float[] x, float[] w, int wOff, float[] y,
                                boolean adder, int n0, int n1, int q0, int qe, Workspace s) {
        int o = g.o(), kk = g.kk(), kc = plan.kc();
        int ld = startChunked(g, plan, x, n0, n1, q0, qe, s);
        s.ycol = grow(s.ycol, o * ld);
        if (adder) Arrays.fill(s.ycol, 0, o * ld, 0f);
        for (int k0 = 0; k0 < kk; k0 += kc) {
            int kb = Math.min(kc, kk - k0);
            loadChunk(g, plan, x, q0, qe, ld, k0, kb, s);
            if (adder) kernels.adderForwardChunk(o, kb, ld, w, wOff + k0, kk, s.xcol, s.xRow, s.ycol);
            else kernels.convForward(o, kb, ld, w, wOff + k0, kk, s.xcol, s.xRow, s.ycol, k0 > 0);
        }
        Im2col.scatterOutput(g, s.ycol, q0, qe, ld, y, adder);
    }

    private void backward(ConvGeometry g, float[] x, float[] w, int wOff, float[] dy, float[] dx, float[] dw,
                          int dwOff, boolean adder) {
        checkSizes(g, x, w, wOff, dy);
        if (dx != null && dx.length < g.inputSize()) throw new IllegalArgumentException("dx too short for " + g);
        if (dw != null && (dwOff < 0 || dw.length - dwOff < g.filterSize())) {
            throw new IllegalArgumentException("dw too short for " + g);
        }
        if (dx == null && dw == null) return;
        Plan plan = plan(g);
        int size = g.filterSize();
        if (dx != null) transposeFilters(w, wOff, g.o(), g.kk(), adder && byTaps(g, plan) ? g.c() : 0);
        float[] wt = this.wt;
        if (dw == null) {
            // No reduction across units: any unit on any thread.
            pool.parallelFor(plan.chunks(), (t, from, to) -> {
                for (int c = from; c < to; c++) backwardChunk(g, plan, c, x, w, wOff, wt, dy, dx, null, adder, spaces[t]);
            });
            return;
        }
        int groups = plan.groups();
        if (partials.length < groups) partials = Arrays.copyOf(partials, groups);
        for (int i = 0; i < groups; i++) {
            if (partials[i] == null || partials[i].length < size) partials[i] = new float[size];
        }
        float[][] parts = partials;
        pool.parallelFor(groups, (t, from, to) -> {
            for (int i = from; i < to; i++) {
                float[] part = parts[i];
                Arrays.fill(part, 0, size, 0f);
                for (int c = plan.groupStart(i), end = plan.groupStart(i + 1); c < end; c++) {
                    backwardChunk(g, plan, c, x, w, wOff, wt, dy, dx, part, adder, spaces[t]);
                }
            }
        });
        // The group partials added in group order, each element on its own (any slicing gives the same bits).
        RangeSum sum = (from, to) -> {
            for (int i = from; i < to; i++) {
                float v = 0f;
                for (int j = 0; j < groups; j++) v += parts[j][i];
                dw[dwOff + i] += v;
            }
        };
        if (size < 1 << 14) sum.run(0, size);
        else pool.parallelFor(size, (t, from, to) -> sum.run(from, to));
    }

    @FunctionalInterface
    private interface RangeSum {
        void run(int from, int to);
    }

    /** Input gradient (if {@code dx != null}) of chunk {@code c}, and its filter gradient added to {@code part}. */
    private void backwardChunk(ConvGeometry g, Plan plan, int c, float[] x, float[] w, int wOff, float[] wt,
                               float[] dy, float[] dx, float[] part, boolean adder, Workspace s) {
        int p = g.positions(), o = g.o(), kk = g.kk(), n = g.n(), chw = g.c() * g.h() * g.w();
        int n0 = c * plan.perChunk(), n1 = Math.min(n, n0 + plan.perChunk());
        if (dx != null && adder && byTaps(g, plan)) {
            inputGradByTaps(g, n0, n1, x, wt, dy, dx, s);
            if (part == null) return;
            dx = null; // the filter gradient below uses the shifted columns as before
        }
        if (dx != null && !plan.shifted()) Arrays.fill(dx, n0 * chw, n1 * chw, 0f);
        int step = plan.shifted() ? (n1 - n0) * p : plan.maxCols();
        for (int q0 = n0 * p; q0 < n1 * p; q0 += step) {
            int qe = Math.min(n1 * p, q0 + step);
            if (plan.chunked(g)) {
                backwardChunked(g, plan, x, w, wOff, dy, dx, part, adder, n0, n1, q0, qe, s);
                continue;
            }
            int ld = loadColumns(g, plan, x, n0, n1, q0, qe, s);
            s.ycol = grow(s.ycol, o * ld);
            if (plan.shifted()) Im2col.gatherShifted(g, dy, n0, n1, ld, s.ycol);
            else Im2col.gatherOutput(g, dy, q0, qe, ld, s.ycol);
            if (dx != null) {
                s.dxcol = grow(s.dxcol, kk * ld);
                if (adder) {
                    kernels.adderInputGrad(o, kk, ld, wt, 0, s.xcol, s.xRow, s.ycol, s.dxcol);
                } else {
                    s.yRow = grow(s.yRow, o);
                    denseRows(o, ld, s.yRow);
                    kernels.multiply(kk, o, ld, wt, 0, s.ycol, s.yRow, s.dxcol);
                }
                if (plan.shifted()) {
                    int cs = Im2col.shiftedChannelStride(g, ld);
                    s.dxpad = grow(s.dxpad, Im2col.shiftedPlanes(g) * cs);
                    Im2col.col2imShifted(g, s.dxcol, ld, n0, n1, cs, s.dxpad, dx, kernels);
                } else {
                    Im2col.col2im(g, s.dxcol, q0, qe, ld, dx);
                }
            }
            if (part != null) {
                if (adder) kernels.adderFilterGrad(o, kk, ld, s.ycol, s.xcol, s.xRow, w, wOff, part);
                else kernels.filterGrad(o, kk, ld, s.ycol, s.xcol, s.xRow, part);
            }
        }
    }

    /**
     * Whether the adder input gradient of this plan runs by taps ({@link #inputGradByTaps}): the stride-1 shifted
     * plans. Their shifted columns carry junk (a gap of {@code pad} columns per row and {@code pad} rows per sample:
     * 27 % of the sums at 8x8, 31 % at 7x7, 15 % at 14x14), which the input gradient computed and col2im dropped.
     */
    private static boolean byTaps(ConvGeometry g, Plan plan) {
        return plan.shifted() && g.stride() == 1;
    }

    /**
     * The adder input gradient of samples [n0, n1) of a stride-1 layer, tap by tap on columns that are the input
     * pixels themselves (no junk): x by channel ({@link Im2col#packChannels}), and for tap t = (u, v) the dy that
     * pixel (h, w) meets through it, dy(h + pad - u, w + pad - v) or 0 ({@link Im2col#dyTap}), so that
     * {@code D_t[c][pixel] = sum_o clamp(W[o, c, t] - x[c][pixel]) * dy_t[o][pixel]} is one ordinary input-gradient
     * call with C rows ({@code wt} tap-major, see {@link #transposeFilters}). dx = ((D_0 + D_1) + ...) + D_(k*k-1).
     * Same bits as the shifted path: there row (c, u, v) of dxcol held the same sums (the same x, filter values and dy,
     * o ascending) in the shifted column of the output, col2im added the rows of a pixel in tap order onto +0, and a
     * tap whose output does not exist added a sum over dy = 0 (+0, or nothing), which leaves any sum started at +0
     * unchanged; here tap 0 is stored as it is (+0 + D = D: a sum over o from +0 is never -0) and the others added.
     */
    private void inputGradByTaps(ConvGeometry g, int n0, int n1, float[] x, float[] wt, float[] dy, float[] dx, Workspace s) {
        int c = g.c(), o = g.o(), taps = g.k() * g.k(), ld = roundUp((n1 - n0) * g.h() * g.w());
        // A row stride of a multiple of 1 KB (8x8 maps: 16 samples of 64 pixels) puts a kernel's dy panel (2 vectors of
        // every row) into a few L1 sets; one more vector of zero columns spreads it (zero columns add nothing).
        if (ld % 256 == 0) ld += kernels.columnMultiple();
        s.xc = grow(s.xc, c * ld);
        s.dyt = grow(s.dyt, o * ld);
        s.dxcol = grow(s.dxcol, c * ld);
        s.dxpad = grow(s.dxpad, c * ld);
        s.cRow = grow(s.cRow, c);
        denseRows(c, ld, s.cRow);
        Im2col.packChannels(g, x, n0, n1, ld, s.xc);
        for (int t = 0; t < taps; t++) {
            Im2col.dyTap(g, dy, n0, n1, t, ld, s.dyt);
            kernels.adderInputGrad(o, c, ld, wt, t * c * o, s.xc, s.cRow, s.dyt, t == 0 ? s.dxpad : s.dxcol);
            if (t > 0) kernels.addTo(s.dxcol, 0, s.dxpad, 0, c * ld);
        }
        Im2col.unpackChannels(g, s.dxpad, n0, n1, ld, dx);
    }

    /**
     * The backward of one piece, K walked in chunks of {@code plan.kc()} rows: per chunk the input gradient of its
     * rows (added onto dx, or onto the shifted buffer, in row order) and the filter gradient of its taps. Input
     * gradients are per-(tap, column) sums over o and col2im adds the rows in ascending order either way, so they
     * keep their bits; a chunk's filter gradient is added to the partial in place (the kernels' row strides), the
     * same {@code part += s} per element as the unchunked walk (it used to go through a zeroed O x kb scratch:
     * {@code 0 + s = s}, the kernels' lane sums are never -0, so the bits are those of before).
     */
    private void backwardChunked(ConvGeometry g, Plan plan, float[] x, float[] w, int wOff, float[] dy, float[] dx,
                                 float[] part, boolean adder, int n0, int n1, int q0, int qe, Workspace s) {
        int o = g.o(), kk = g.kk(), kc = plan.kc();
        int ld = startChunked(g, plan, x, n0, n1, q0, qe, s);
        s.ycol = grow(s.ycol, o * ld);
        if (plan.shifted()) Im2col.gatherShifted(g, dy, n0, n1, ld, s.ycol);
        else Im2col.gatherOutput(g, dy, q0, qe, ld, s.ycol);
        int cs = Im2col.shiftedChannelStride(g, ld);
        if (dx != null) {
            s.dxcol = grow(s.dxcol, kc * ld);
            if (plan.shifted()) {
                s.dxpad = grow(s.dxpad, Im2col.shiftedPlanes(g) * cs);
                Arrays.fill(s.dxpad, 0, Im2col.shiftedPlanes(g) * cs, 0f);
            }
            if (!adder) {
                s.yRow = grow(s.yRow, o);
                denseRows(o, ld, s.yRow);
            }
        }
        for (int k0 = 0; k0 < kk; k0 += kc) {
            int kb = Math.min(kc, kk - k0);
            loadChunk(g, plan, x, q0, qe, ld, k0, kb, s);
            if (dx != null) {
                if (adder) kernels.adderInputGrad(o, kb, ld, this.wt, k0 * o, s.xcol, s.xRow, s.ycol, s.dxcol);
                else kernels.multiply(kb, o, ld, this.wt, k0 * o, s.ycol, s.yRow, s.dxcol);
                if (plan.shifted()) Im2col.addShiftedRows(g, s.dxcol, ld, k0, k0 + kb, cs, s.dxpad, kernels);
                else Im2col.col2imRows(g, s.dxcol, q0, qe, ld, k0, k0 + kb, dx);
            }
            if (part != null) {
                // The chunk's taps straight into the partial (row stride K): the same part += s per element as
                // through a zeroed O x kb scratch, without the scratch's fill and add passes (512 KB per chunk on
                // ResNet-18's 512-channel layer).
                if (adder) kernels.adderFilterGrad(o, kb, ld, s.ycol, s.xcol, s.xRow, w, wOff + k0, kk, part, k0, kk);
                else kernels.filterGrad(o, kb, ld, s.ycol, s.xcol, s.xRow, part, k0, kk);
            }
        }
        if (dx != null && plan.shifted()) Im2col.unpackShifted(g, s.dxpad, n0, n1, cs, dx);
    }

    /**
     * wt = W^T (K x O), so that an input-gradient block reads its filter values contiguously in o. In 32 x 32
     * tiles (a row-by-row transpose writes every float to another cache line: 2.4 M of them, ~6 % of the input
     * gradient of ResNet-18's 7x7x512 layer on one thread, and it ran on one thread whatever the pool), the tile
     * rows of k split over the threads. A copy: any split gives the same wt. {@code channels > 0}: tap-major rows for
     * {@link #inputGradByTaps}, row {@code (t*C + c)} holding W[:, c, t] (tap t of channel c is k = c*k*k + t).
     */
    private void transposeFilters(float[] w, int wOff, int o, int kk, int channels) {
        wt = grow(wt, o * kk);
        float[] dst = wt;
        int taps = channels > 0 ? kk / channels : 1;
        int tiles = (kk + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
        RangeSum body = (from, to) -> {
            for (int k0 = from * TRANSPOSE_TILE, kEnd = Math.min(kk, to * TRANSPOSE_TILE); k0 < kEnd; k0 += TRANSPOSE_TILE) {
                int k1 = Math.min(kEnd, k0 + TRANSPOSE_TILE);
                for (int r0 = 0; r0 < o; r0 += TRANSPOSE_TILE) {
                    int r1 = Math.min(o, r0 + TRANSPOSE_TILE);
                    for (int k = k0; k < k1; k++) {
                        int row = channels > 0 ? k % taps * channels + k / taps : k;
                        for (int r = r0; r < r1; r++) dst[row * o + r] = w[wOff + r * kk + k];
                    }
                }
            }
        };
        if ((long) o * kk < 1 << 16) body.run(0, tiles);
        else pool.parallelFor(tiles, (t, from, to) -> body.run(from, to));
    }
}
