package org.addernet.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import org.addernet.train.Bf16;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.StorageLevels;
import org.apache.spark.network.buffer.ManagedBuffer;
import org.apache.spark.network.shuffle.BlockFetchingListener;
import org.apache.spark.storage.BlockData;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockManager;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.storage.TestBlockId;
import org.apache.spark.util.io.ChunkedByteBuffer;
import scala.Option;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * The sharded step's state and messages as blocks of the executors' BlockManagers (what BigDL's
 * {@code AllReduceParameter} does): little-endian float32, bfloat16 ({@code wire=bf16}, {@link Bf16}) or double
 * arrays as raw bytes, registered with the driver's BlockManagerMaster so any executor can fetch them. A block is
 * read from the local BlockManager when it is there (a view of the stored bytes, no copy), else from its holder
 * over the block transfer service. A block that no executor holds any more (its executor was lost) is an
 * {@link IllegalStateException} whose message starts with {@link #MISSING}: the driver recognizes it in a failed
 * job and replays from the last checkpoint.
 *
 * <p>Storage level {@code MEMORY_AND_DISK_SER}: {@code putBytes} of a serialized level stores the given
 * {@code ChunkedByteBuffer} itself (no serialization, no copy, on heap), and a local read returns it; a short
 * executor spills the block instead of failing. A deserialized level ({@code MEMORY_ONLY}) would instead make
 * {@code putBytes} deserialize the bytes as a Spark stream, which raw floats are not.
 *
 * <p>Three things save copies of whole slices: {@link #readAll} fetches a task's blocks in parallel (remote ones
 * over the network at once; each decoded as soon as it arrives, straight from the received buffer), a job B task
 * adds the local operands from the stored bytes themselves ({@link #local(String, long)}), and an owner keeps
 * the float arrays it will use again itself ({@link #keep}/{@link #take}: the master weights and momentum from one
 * step's job B to the next) besides publishing them as blocks. The blocks stay
 * the state; the kept arrays are only a short cut when the next task runs on the same executor.
 */
final class StateBlocks {
    /** The start of the message of a task that could not find a block: the driver's sign that state was lost. */
    static final String MISSING = "sharded state block missing";
    private static final ClassTag<Object> TAG = ClassTag$.MODULE$.apply(Object.class);
    /** Fetch threads per executor JVM, shared by its tasks (BigDL uses 4). */
    static final int FETCH_THREADS = 8;
    private static final ExecutorService FETCH = Executors.newFixedThreadPool(FETCH_THREADS, r -> {
        Thread t = new Thread(r, "addernet block fetch");
        t.setDaemon(true);
        return t;
    });

    private StateBlocks() {}

    /** The meter of the task running on this thread (null: nothing counted); fetch threads take their task's. */
    private static final ThreadLocal<ShardedTimings.Meter> METER = new ThreadLocal<>();

    /** Counts this thread's block traffic into {@code m} from now on (null: stop). */
    static void meter(ShardedTimings.Meter m) {
        if (m == null) METER.remove();
        else METER.set(m);
    }

    private static void count(ShardedTimings.Count c, long v) {
        ShardedTimings.Meter m = METER.get();
        if (m != null) m.add(c, v);
    }

    static BlockId id(String name) {
        return new TestBlockId("addernet_" + name);
    }

    static void putFloats(String name, float[] a, int from, int to) {
        long t = System.nanoTime();
        ByteBuffer b = ByteBuffer.allocate((to - from) * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(a, from, to - from);
        count(ShardedTimings.Count.ENCODE_NANOS, System.nanoTime() - t);
        put(name, b);
    }

    /** {@code a[from, to)} rounded to bfloat16 ({@link Bf16}): half the bytes of {@link #putFloats}. */
    static void putBf16(String name, float[] a, int from, int to) {
        long t = System.nanoTime();
        ByteBuffer b = Bf16.encode(a, from, to);
        count(ShardedTimings.Count.ENCODE_NANOS, System.nanoTime() - t);
        put(name, b);
    }

    static void putDoubles(String name, double[] a, int from, int to) {
        long t = System.nanoTime();
        ByteBuffer b = ByteBuffer.allocate((to - from) * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(a, from, to - from);
        count(ShardedTimings.Count.ENCODE_NANOS, System.nanoTime() - t);
        put(name, b);
    }

    private static void put(String name, ByteBuffer b) {
        BlockManager bm = SparkEnv.get().blockManager();
        long t = System.nanoTime();
        BlockId id = id(name);
        if (!bm.putBytes(id, new ChunkedByteBuffer(b), StorageLevels.MEMORY_AND_DISK_SER, true, TAG)) {
            throw new IllegalStateException("executor " + SparkEnv.get().executorId() + " could not store block " + name + " ("
                    + b.capacity() + " bytes) in its BlockManager");
        }
        count(ShardedTimings.Count.STORE_NANOS, System.nanoTime() - t);
        if (METER.get() != null) {
            Option<org.apache.spark.storage.BlockStatus> st = bm.getStatus(id);
            if (st.isDefined()) count(ShardedTimings.Count.DISK_BYTES, st.get().diskSize());
        }
    }

    /** Block {@code name} (of {@code length} floats) into {@code dst[off, off + length)}. */
    static void readFloats(String name, float[] dst, int off, int length) {
        read(name, (long) length * Float.BYTES, b -> b.asFloatBuffer().get(dst, off, length));
    }

    static float[] floats(String name, int length) {
        float[] a = new float[length];
        readFloats(name, a, 0, length);
        return a;
    }

    static double[] doubles(String name, int length) {
        double[] a = new double[length];
        read(name, (long) length * Double.BYTES, b -> b.asDoubleBuffer().get(a));
        return a;
    }

    /**
     * A block's content in pieces: {@code b} (little-endian, from position 0) holds whole values of the read's unit
     * size, the first of them value number {@code first} of the block. A block fetched from another executor arrives
     * as the many network buffers Netty received it in, and is decoded from them as they are, without first being
     * copied into one buffer of the block's size; a value cut between two network buffers comes as a piece of its own.
     * The buffer is only valid during the call.
     */
    interface Pieces {
        void accept(ByteBuffer b, int first);
    }

    /** One read of {@link #readAll}: block {@code name} of {@code bytes} bytes, values of {@code unit} bytes, to {@code use}. */
    record Read(String name, long bytes, int unit, Pieces use) {}

    /**
     * All these reads at once on the fetch threads, each block decoded by the thread that fetched it while the
     * others are still on the way; returns when all are done. The {@code use}s must write disjoint memory. A missing
     * block fails with {@link #MISSING} like {@link #readFloats}.
     */
    static void readAll(List<Read> reads) {
        if (reads.size() == 1) {
            Read r = reads.get(0);
            read(r.name(), r.bytes(), r.unit(), r.use());
            return;
        }
        List<Future<?>> f = new ArrayList<>(reads.size());
        ShardedTimings.Meter m = METER.get();
        for (Read r : reads) {
            f.add(FETCH.submit(() -> {
                meter(m);
                try {
                    read(r.name(), r.bytes(), r.unit(), r.use());
                } finally {
                    meter(null);
                }
            }));
        }
        RuntimeException first = null;
        for (Future<?> x : f) {
            try {
                x.get();
            } catch (ExecutionException e) {
                RuntimeException re = e.getCause() instanceof RuntimeException c ? c : new IllegalStateException(e.getCause());
                // A missing block is the message the driver looks for: report it rather than another failure.
                if (first == null || (re.getMessage() != null && re.getMessage().startsWith(MISSING))) first = re;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                for (Future<?> y : f) y.cancel(true);
                throw new IllegalStateException("interrupted while fetching state blocks", e);
            }
        }
        if (first != null) throw first;
    }

    /**
     * {@code reads} in their list order, at most {@code lanes} at a time on the fetch threads, started now; the
     * returned {@link InOrder} tells a forward how far they have got: once reads {@code 0 .. i} are all done,
     * {@code data[0, ends[i])} is in ({@code ends} non-decreasing; a read that fills no part of {@code data}, e.g. a
     * BN buffer slice, has the end of the read before it, and comes first). The {@code use}s must write disjoint
     * memory. The sharded step's job A fetches its weights this way while its forward runs ({@link
     * org.addernet.engine.Params#setArrival}).
     */
    static InOrder readInOrder(List<Read> reads, int[] ends, int lanes) {
        InOrder o = new InOrder(reads, ends);
        ShardedTimings.Meter m = METER.get();
        int n = Math.max(1, Math.min(lanes, reads.size()));
        for (int l = 0; l < n; l++) {
            o.lanes.add(FETCH.submit(() -> {
                meter(m);
                try {
                    o.drain();
                } finally {
                    meter(null);
                }
            }));
        }
        return o;
    }

    /** Reads in progress ({@link #readInOrder}): how far the done prefix reaches, and the first failure. */
    static final class InOrder implements org.addernet.engine.Params.Arrival {
        private final List<Read> reads;
        private final int[] ends;
        private final boolean[] done;
        private final java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        private final List<Future<?>> lanes = new ArrayList<>();
        /** Reads 0 .. prefix - 1 are done (guarded by this). */
        private int prefix;
        private RuntimeException failed;
        /** Time callers of {@link #await} spent waiting, ns (the part of the fetch the forward did not hide). */
        private long stalledNanos;

        private InOrder(List<Read> reads, int[] ends) {
            if (ends.length != reads.size()) throw new IllegalArgumentException(reads.size() + " reads but " + ends.length + " ends");
            this.reads = reads;
            this.ends = ends;
            this.done = new boolean[reads.size()];
        }

        /** A lane: takes the next read in list order until none is left or one has failed. */
        private void drain() {
            for (int i; (i = next.getAndIncrement()) < reads.size(); ) {
                synchronized (this) {
                    if (failed != null) return;
                }
                Read r = reads.get(i);
                try {
                    read(r.name(), r.bytes(), r.unit(), r.use());
                } catch (RuntimeException | Error x) {
                    RuntimeException e = x instanceof RuntimeException re ? re : new IllegalStateException("reading block " + r.name() + ": " + x, x);
                    synchronized (this) {
                        if (failed == null || (e.getMessage() != null && e.getMessage().startsWith(MISSING))) failed = e;
                        notifyAll();
                    }
                    return;
                }
                synchronized (this) {
                    done[i] = true;
                    while (prefix < done.length && done[prefix]) prefix++;
                    notifyAll();
                }
            }
        }

        private boolean ready(int end) {
            return prefix == done.length || (prefix > 0 && ends[prefix - 1] >= end);
        }

        @Override
        public synchronized void await(int end) {
            if (failed == null && ready(end)) return;
            long t = System.nanoTime();
            try {
                while (failed == null && !ready(end)) wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for state blocks", e);
            } finally {
                stalledNanos += System.nanoTime() - t;
            }
            // The lane's exception itself (its message is what the driver looks for), thrown again on this thread.
            if (failed != null) throw failed;
        }

        /** Waits until every lane has stopped (none writes any more), then rethrows the first failure. */
        void finish() {
            boolean interrupted = false;
            for (Future<?> f : lanes) {
                while (true) {
                    try {
                        f.get();
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true; // a lane may still be writing into the caller's arrays: wait it out
                    } catch (ExecutionException e) {
                        break; // drain catches the reads' failures; anything else is a bug surfacing below
                    }
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
            synchronized (this) {
                if (failed != null) throw failed;
                if (prefix != done.length) throw new IllegalStateException("state block reads ended with " + (done.length - prefix) + " not done");
            }
        }

        synchronized long stalledNanos() {
            return stalledNanos;
        }
    }

    /**
     * Work done one piece after another on a fetch thread, in the order given, beside the caller's own work (job A's
     * gradient puts while its backward runs), counted into the caller's meter. After a failure the later pieces do
     * not run; {@link #finish} waits for the last one and rethrows the first failure.
     */
    static final class Lane {
        private final ShardedTimings.Meter meter = METER.get();
        private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);

        void submit(Runnable r) {
            tail = tail.thenRunAsync(() -> {
                meter(meter);
                try {
                    r.run();
                } finally {
                    meter(null);
                }
            }, FETCH);
        }

        /** Returns when every piece has run (not interruptible: a piece may be reading the caller's arrays). */
        void finish() {
            try {
                tail.join();
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
            }
        }
    }

    /**
     * A local block's bytes held for reading ({@link #local(String, long)}): a view of the stored bytes, read-locked
     * until {@link #close}.
     */
    static final class Held implements AutoCloseable {
        final ByteBuffer bytes;
        private final Runnable release;

        private Held(ByteBuffer bytes, Runnable release) {
            this.bytes = bytes;
            this.release = release;
        }

        @Override
        public void close() {
            release.run();
        }
    }

    /**
     * Block {@code name} of {@code bytes} bytes held for reading if this executor stores it, else null. The caller
     * closes it in the thread that called this (the read lock belongs to the task's thread).
     */
    static Held local(String name, long bytes) {
        return local(SparkEnv.get().blockManager(), name, bytes);
    }

    private static Held local(BlockManager bm, String name, long bytes) {
        BlockId id = id(name);
        Option<BlockData> local = bm.getLocalBytes(id);
        if (local.isEmpty()) return null;
        BlockData d = local.get();
        try {
            return new Held(checked(name, d.toByteBuffer(), bytes), () -> bm.releaseLockAndDispose(id, d, Option.empty()));
        } catch (RuntimeException e) {
            bm.releaseLockAndDispose(id, d, Option.empty());
            throw e;
        }
    }

    /**
     * A block held elsewhere: fetched from its holder with the block transfer service and given to {@code use} in
     * the fetch callback, straight from the received buffer ({@code getRemoteBytes} first copies it into a fresh
     * heap buffer). If that fails for any reason but {@code use}'s own, Spark's {@code getRemoteBytes} tries every
     * holder, and a block none has is {@link #MISSING}.
     */
    private static void remote(BlockManager bm, String name, long bytes, int unit, Pieces use) {
        BlockId id = id(name);
        List<BlockManagerId> at = new ArrayList<>(CollectionConverters.asJava(bm.master().getLocations(id)));
        at.remove(bm.blockManagerId());
        if (!at.isEmpty()) {
            BlockManagerId holder = at.get(0);
            CompletableFuture<Void> done = new CompletableFuture<>();
            RuntimeException[] useFailed = new RuntimeException[1];
            ShardedTimings.Meter m = METER.get();
            long t0 = System.nanoTime();
            try {
                bm.blockTransferService().fetchBlocks(holder.host(), holder.port(), holder.executorId(), new String[] {id.name()},
                        new BlockFetchingListener() {
                            @Override
                            public void onBlockFetchSuccess(String blockId, ManagedBuffer data) {
                                try {
                                    long t2 = System.nanoTime();
                                    decode(name, data, bytes, unit, use);
                                    if (m != null) {
                                        m.add(ShardedTimings.Count.REMOTE_WAIT_NANOS, t2 - t0);
                                        m.add(ShardedTimings.Count.DECODE_NANOS, System.nanoTime() - t2);
                                        m.add(ShardedTimings.Count.REMOTE_BYTES, bytes);
                                        m.add(ShardedTimings.Count.REMOTE_BLOCKS, 1);
                                    }
                                    done.complete(null);
                                } catch (RuntimeException e) {
                                    useFailed[0] = e;
                                    done.completeExceptionally(e);
                                } catch (Throwable t) {
                                    done.completeExceptionally(t);
                                }
                            }

                            @Override
                            public void onBlockFetchFailure(String blockId, Throwable e) {
                                done.completeExceptionally(e);
                            }
                        }, null);
                done.get();
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while fetching block " + name, e);
            } catch (ExecutionException | RuntimeException e) {
                if (useFailed[0] != null) throw useFailed[0];
                // the holder went away or the transfer failed: the slow path below decides whether the block is gone
            }
        }
        Option<ChunkedByteBuffer> remote = bm.getRemoteBytes(id);
        if (remote.isEmpty()) {
            throw new IllegalStateException(MISSING + ": " + name + " is held by no live executor (executor " + SparkEnv.get().executorId()
                    + " looked for it; was its holder lost?)");
        }
        ChunkedByteBuffer c = remote.get();
        count(ShardedTimings.Count.REMOTE_BYTES, bytes);
        count(ShardedTimings.Count.REMOTE_BLOCKS, 1);
        try {
            long t = System.nanoTime();
            use.accept(checked(name, c.toByteBuffer(), bytes), 0);
            count(ShardedTimings.Count.DECODE_NANOS, System.nanoTime() - t);
        } finally {
            c.dispose();
        }
    }

    private static void read(String name, long bytes, Consumer<ByteBuffer> use) {
        read(name, bytes, 0, (b, first) -> use.accept(b));
    }

    /** Block {@code name} to {@code use}: in one piece if local or {@code unit} is 0, else as received. */
    private static void read(String name, long bytes, int unit, Pieces use) {
        BlockManager bm = SparkEnv.get().blockManager();
        Held h = local(bm, name, bytes);
        if (h == null) {
            remote(bm, name, bytes, unit, use);
            return;
        }
        try {
            long t = System.nanoTime();
            use.accept(h.bytes, 0);
            count(ShardedTimings.Count.DECODE_NANOS, System.nanoTime() - t);
        } finally {
            h.close();
        }
    }

    /**
     * A fetched block to {@code use}: straight from the network buffers Netty holds it in ({@link Pieces}), or with
     * {@code unit} 0 (or a buffer that is not Netty's) in one piece, which copies a composite buffer into one array.
     */
    private static void decode(String name, ManagedBuffer data, long bytes, int unit, Pieces use) throws java.io.IOException {
        if (unit > 0 && data.size() == bytes && data instanceof org.apache.spark.network.buffer.NettyManagedBuffer) {
            Object o = data.convertToNetty(); // a retained duplicate
            if (o instanceof io.netty.buffer.ByteBuf buf) {
                try {
                    pieces(name, buf.nioBuffers(), bytes, unit, use);
                } finally {
                    buf.release();
                }
                return;
            }
            io.netty.util.ReferenceCountUtil.release(o);
        }
        use.accept(checked(name, data.nioByteBuffer(), bytes), 0);
    }

    /** {@code parts} (together {@code bytes} bytes) as whole values of {@code unit} bytes ({@link Pieces}). */
    static void pieces(String name, ByteBuffer[] parts, long bytes, int unit, Pieces use) {
        long total = 0;
        for (ByteBuffer p : parts) total += p.remaining();
        if (total != bytes || bytes % unit != 0) throw new IllegalStateException("block " + name + " has " + total + " bytes, expected " + bytes);
        byte[] carry = new byte[unit]; // a value cut between two parts
        int have = 0, done = 0;
        for (ByteBuffer part : parts) {
            ByteBuffer p = part.slice();
            if (have > 0) {
                int n = Math.min(unit - have, p.remaining());
                p.get(carry, have, n);
                have += n;
                if (have < unit) continue;
                use.accept(ByteBuffer.wrap(carry).order(ByteOrder.LITTLE_ENDIAN), done++);
                have = 0;
            }
            int whole = p.remaining() / unit;
            if (whole > 0) {
                use.accept(p.slice().limit(whole * unit).order(ByteOrder.LITTLE_ENDIAN), done);
                done += whole;
                p.position(p.position() + whole * unit);
            }
            have = p.remaining();
            p.get(carry, 0, have);
        }
    }

    private static ByteBuffer checked(String name, ByteBuffer b, long bytes) {
        if (b.remaining() != bytes) throw new IllegalStateException("block " + name + " has " + b.remaining() + " bytes, expected " + bytes);
        return b.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    // ------------------------------------------------ arrays an owner keeps for its next task on this executor

    /** Kept arrays by slot ({@code <kind>_<slice>}): one per slot, so an array nobody took is replaced, never piles up. */
    private static final Map<String, Kept> KEPT = new ConcurrentHashMap<>();
    private static volatile String keptRun = "";
    /** Test hook: false makes {@link #keep} a no-op, so every task reads the blocks (as on another executor). */
    static volatile boolean keeping = true;

    private record Kept(String name, float[] array) {}

    /**
     * Keeps {@code a} (not copied: the caller hands it over) as block {@code name}'s content for a later task of
     * this executor, in slot {@code slot}. Arrays of another run are dropped: an executor keeps one run's arrays.
     */
    static void keep(String run, String slot, String name, float[] a) {
        if (!keeping) return;
        if (!run.equals(keptRun)) {
            synchronized (KEPT) {
                if (!run.equals(keptRun)) {
                    KEPT.clear();
                    keptRun = run;
                }
            }
        }
        KEPT.put(slot, new Kept(name, a));
    }

    /**
     * The array kept as {@code name}'s content, removed (the caller may change it), or else {@code read}'s fresh copy
     * of the blocks: a retried task finds nothing kept and reads the blocks, which are never changed.
     */
    static float[] take(String slot, String name, java.util.function.Supplier<float[]> read) {
        Kept k = KEPT.get(slot);
        if (k != null && k.name().equals(name) && KEPT.remove(slot, k)) return k.array();
        return read.get();
    }

    /**
     * Block {@code name} ({@code length} doubles) once some task of the same barrier stage has published it: polls
     * (this JVM's BlockManager, then the master's locations) with a short back-off, since Spark's own
     * {@code BarrierTaskContext.allGather} polls its reply with a 1-second sleep. The barrier stage runs all its
     * tasks at once, so the block's writer is running; a killed task (a peer failed) stops waiting.
     */
    static double[] awaitDoubles(String name, int length, org.apache.spark.TaskContext ctx, long timeoutSeconds) {
        BlockManager bm = SparkEnv.get().blockManager();
        BlockId id = id(name);
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L, pause = 100_000;
        while (bm.getStatus(id).isEmpty() && bm.master().getLocations(id).isEmpty()) {
            if (ctx != null) ctx.killTaskIfInterrupted();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("sharded step: block " + name + " was not published within " + timeoutSeconds
                        + " s by the task of the same barrier stage that writes it");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(pause);
            pause = Math.min(2 * pause, 2_000_000);
        }
        return doubles(name, length);
    }

    /** Drops every kept array (a run ended; in local mode the driver's JVM is the executor's). */
    static void forgetKept() {
        KEPT.clear();
    }

    /** Where this task runs, as a Spark preferred location ({@code executor_<host>_<id>}). */
    static String here() {
        BlockManager bm = SparkEnv.get().blockManager();
        return "executor_" + bm.blockManagerId().host() + "_" + bm.blockManagerId().executorId();
    }

    /** Driver side: asks every holder of these blocks to drop them (asynchronous; unknown names are ignored). */
    static void removeEverywhere(Iterable<String> names) {
        SparkEnv env = SparkEnv.get();
        if (env == null) return;
        for (String n : names) env.blockManager().master().removeBlock(id(n));
    }

    /** Drops a block from this JVM's BlockManager at once (tests: a lost executor in local mode). */
    static void removeHere(String name) {
        SparkEnv.get().blockManager().removeBlock(id(name), true);
    }
}
