package org.addernet.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.StorageLevels;
import org.apache.spark.storage.BlockData;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockManager;
import org.apache.spark.storage.TestBlockId;
import org.apache.spark.util.io.ChunkedByteBuffer;
import scala.Option;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * The sharded step's state and messages as blocks of the executors' BlockManagers (what BigDL's
 * {@code AllReduceParameter} does): little-endian float or double arrays as raw bytes ({@code MEMORY_AND_DISK_SER},
 * so a short executor spills instead of failing), registered with the driver's BlockManagerMaster so any executor
 * can fetch them. A block is read from the local BlockManager when it is there, else from its holder over the
 * block transfer service. A block that no executor holds any more (its executor was lost) is an
 * {@link IllegalStateException} whose message starts with {@link #MISSING}: the driver recognizes it in a failed
 * job and replays from the last checkpoint.
 */
final class StateBlocks {
    /** The start of the message of a task that could not find a block: the driver's sign that state was lost. */
    static final String MISSING = "sharded state block missing";
    private static final ClassTag<Object> TAG = ClassTag$.MODULE$.apply(Object.class);

    private StateBlocks() {}

    static BlockId id(String name) {
        return new TestBlockId("addernet_" + name);
    }

    static void putFloats(String name, float[] a, int from, int to) {
        ByteBuffer b = ByteBuffer.allocate((to - from) * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(a, from, to - from);
        put(name, b);
    }

    static void putDoubles(String name, double[] a, int from, int to) {
        ByteBuffer b = ByteBuffer.allocate((to - from) * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(a, from, to - from);
        put(name, b);
    }

    private static void put(String name, ByteBuffer b) {
        BlockManager bm = SparkEnv.get().blockManager();
        if (!bm.putBytes(id(name), new ChunkedByteBuffer(b), StorageLevels.MEMORY_AND_DISK_SER, true, TAG)) {
            throw new IllegalStateException("executor " + SparkEnv.get().executorId() + " could not store block " + name + " ("
                    + b.capacity() + " bytes) in its BlockManager");
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

    private static void read(String name, long bytes, Consumer<ByteBuffer> use) {
        BlockManager bm = SparkEnv.get().blockManager();
        BlockId id = id(name);
        Option<BlockData> local = bm.getLocalBytes(id);
        if (local.isDefined()) {
            BlockData d = local.get();
            try {
                use.accept(checked(name, d.toByteBuffer(), bytes));
            } finally {
                bm.releaseLockAndDispose(id, d, Option.empty());
            }
            return;
        }
        Option<ChunkedByteBuffer> remote = bm.getRemoteBytes(id);
        if (remote.isEmpty()) {
            throw new IllegalStateException(MISSING + ": " + name + " is held by no live executor (executor " + SparkEnv.get().executorId()
                    + " looked for it; was its holder lost?)");
        }
        ChunkedByteBuffer c = remote.get();
        try {
            use.accept(checked(name, c.toByteBuffer(), bytes));
        } finally {
            c.dispose();
        }
    }

    private static ByteBuffer checked(String name, ByteBuffer b, long bytes) {
        if (b.remaining() != bytes) throw new IllegalStateException("block " + name + " has " + b.remaining() + " bytes, expected " + bytes);
        return b.slice().order(ByteOrder.LITTLE_ENDIAN);
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
