package org.addernet.spark;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.BiConsumer;
import java.util.function.IntFunction;
import java.util.function.ToIntFunction;
import org.addernet.data.EncodedImages;
import org.addernet.data.ImageDataset;
import org.addernet.data.ImageFolder;
import org.addernet.train.EvalStats;
import org.addernet.train.StepAggregate;
import org.apache.spark.serializer.KryoRegistrator;

/**
 * Registers every class that crosses the wire ({@code spark.kryo.registrationRequired=true} turns a missing one
 * into an error instead of a silent class-name-per-record cost). Large primitive arrays are written as one bulk
 * byte block (little-endian) instead of Kryo's element-by-element default: an 11M-float gradient reduces about
 * 3x faster that way (SPARK-NOTES).
 */
public final class AdderKryoRegistrator implements KryoRegistrator {
    @Override
    public void registerClasses(Kryo kryo) {
        kryo.register(float[].class, AdderKryoRegistrator.<float[]>bulk(4, a -> a.length, float[]::new,
                (b, a) -> b.asFloatBuffer().put(a), (b, a) -> b.asFloatBuffer().get(a)));
        kryo.register(double[].class, AdderKryoRegistrator.<double[]>bulk(8, a -> a.length, double[]::new,
                (b, a) -> b.asDoubleBuffer().put(a), (b, a) -> b.asDoubleBuffer().get(a)));
        kryo.register(long[].class, AdderKryoRegistrator.<long[]>bulk(8, a -> a.length, long[]::new,
                (b, a) -> b.asLongBuffer().put(a), (b, a) -> b.asLongBuffer().get(a)));
        kryo.register(int[].class);
        kryo.register(byte[].class);
        kryo.register(float[][].class);
        kryo.register(Object[].class);
        kryo.register(String[].class);
        kryo.register(Integer[].class); // the slice numbers of the sharded step's parallelized RDDs
        kryo.register(Weights.class, new WeightsSerializer());
        kryo.register(StepAggregate.class, new StepAggregateSerializer());
        kryo.register(EvalStats.class, new EvalStatsSerializer());
        kryo.register(ImageDataset.class, new ImageDatasetSerializer());
        kryo.register(ImageRecord.class, new ImageRecordSerializer());
        kryo.register(ImageFolder.Entry.class, new EntrySerializer());
        kryo.register(EncodedImages.class, new EncodedImagesSerializer());
        kryo.register(org.addernet.data.LocalShard.class, new LocalShardSerializer());
        kryo.register(EvalStats[].class);
        kryo.register(StepAggregate[].class);
        kryo.register(LocalResults.Key.class, new LocalKeySerializer());
        // Schema types of our Parquet files (predict's output, prepare's shards) that Spark does not register itself:
        // reading them infers the schema in a job whose task results carry them (ParquetFileFormat.mergeSchemasInParallel).
        kryo.register(org.apache.spark.sql.types.ArrayType.class);
        kryo.register(org.apache.spark.sql.types.FloatType$.class);
        kryo.register(org.apache.spark.sql.types.BinaryType$.class);
    }

    /**
     * A primitive array as its length and one little-endian block: {@code size} bytes per element, moved through a
     * typed view of a {@link ByteBuffer} ({@code put}/{@code get} copy the whole array at once).
     */
    static <T> Serializer<T> bulk(int size, ToIntFunction<T> length, IntFunction<T> create, BiConsumer<ByteBuffer, T> put,
                                  BiConsumer<ByteBuffer, T> get) {
        return new Serializer<>() {
            @Override
            public void write(Kryo kryo, Output out, T a) {
                int n = length.applyAsInt(a);
                out.writeInt(n, true);
                byte[] b = new byte[n * size];
                put.accept(ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN), a);
                out.writeBytes(b);
            }

            @Override
            public T read(Kryo kryo, Input in, Class<T> type) {
                int n = in.readInt(true);
                T a = create.apply(n);
                get.accept(ByteBuffer.wrap(in.readBytes(n * size)).order(ByteOrder.LITTLE_ENDIAN), a);
                return a;
            }
        };
    }

    static final class WeightsSerializer extends Serializer<Weights> {
        @Override
        public void write(Kryo kryo, Output out, Weights w) {
            out.writeLong(w.version());
            kryo.writeObject(out, w.params());
            kryo.writeObject(out, w.buffers());
        }

        @Override
        public Weights read(Kryo kryo, Input in, Class<Weights> type) {
            return new Weights(in.readLong(), kryo.readObject(in, float[].class), kryo.readObject(in, float[].class));
        }
    }

    /** Local mode's result key: two longs. */
    static final class LocalKeySerializer extends Serializer<LocalResults.Key> {
        @Override
        public void write(Kryo kryo, Output out, LocalResults.Key k) {
            out.writeLong(k.job);
            out.writeLong(k.id);
        }

        @Override
        public LocalResults.Key read(Kryo kryo, Input in, Class<LocalResults.Key> type) {
            return new LocalResults.Key(in.readLong(), in.readLong());
        }
    }

    /** An empty aggregate (no result yet) is written as a flag alone: the cheap zero of treeAggregate. */
    static final class StepAggregateSerializer extends Serializer<StepAggregate> {
        @Override
        public void write(Kryo kryo, Output out, StepAggregate a) {
            boolean empty = a.grad() == null;
            out.writeBoolean(empty);
            if (empty) return;
            kryo.writeObject(out, a.grad());
            kryo.writeObject(out, a.weightedBuffers());
            out.writeLong(a.count());
            out.writeDouble(a.lossSum());
            out.writeLong(a.correct());
            out.writeString(a.kernels());
        }

        @Override
        public StepAggregate read(Kryo kryo, Input in, Class<StepAggregate> type) {
            if (in.readBoolean()) return new StepAggregate();
            return StepAggregate.of(kryo.readObject(in, float[].class), kryo.readObject(in, double[].class),
                    in.readLong(), in.readDouble(), in.readLong(), in.readString());
        }
    }

    static final class EvalStatsSerializer extends Serializer<EvalStats> {
        @Override
        public void write(Kryo kryo, Output out, EvalStats s) {
            out.writeInt(s.classes(), true);
            out.writeLong(s.count());
            out.writeLong(s.top1Hits());
            out.writeLong(s.top5Hits());
            out.writeDouble(s.lossSum());
            kryo.writeObject(out, s.perClassCount());
            kryo.writeObject(out, s.perClassHits());
            long[] conf = s.confusion();
            kryo.writeObject(out, conf == null ? new long[0] : conf);
        }

        @Override
        public EvalStats read(Kryo kryo, Input in, Class<EvalStats> type) {
            return EvalStats.of(in.readInt(true), in.readLong(), in.readLong(), in.readLong(), in.readDouble(),
                    kryo.readObject(in, long[].class), kryo.readObject(in, long[].class), kryo.readObject(in, long[].class));
        }
    }

    /** Only the samples of the view travel, with their ids. */
    static final class ImageDatasetSerializer extends Serializer<ImageDataset> {
        @Override
        public void write(Kryo kryo, Output out, ImageDataset d) {
            out.writeString(d.name());
            out.writeInt(d.channels(), true);
            out.writeInt(d.height(), true);
            out.writeInt(d.width(), true);
            out.writeInt(d.numClasses(), true);
            out.writeInt(d.idBase(), true);
            out.writeInt(d.idStride(), true);
            int n = d.count();
            out.writeInt(n, true);
            for (int i = 0; i < n; i++) out.writeInt(d.label(i), true);
            out.writeBytes(d.pixels(), n == 0 ? 0 : d.pixelOffset(0), n * d.sampleSize());
        }

        @Override
        public ImageDataset read(Kryo kryo, Input in, Class<ImageDataset> type) {
            String name = in.readString();
            int c = in.readInt(true), h = in.readInt(true), w = in.readInt(true), classes = in.readInt(true);
            int idBase = in.readInt(true), idStride = in.readInt(true), n = in.readInt(true);
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) labels[i] = in.readInt(true);
            byte[] pixels = in.readBytes(n * c * h * w);
            return new ImageDataset(name, pixels, labels, c, h, w, classes, idBase, idStride);
        }
    }

    /** Records have no setters for Kryo's field serializer: each field by hand. */
    static final class EntrySerializer extends Serializer<ImageFolder.Entry> {
        @Override
        public void write(Kryo kryo, Output out, ImageFolder.Entry e) {
            out.writeInt(e.id(), true);
            out.writeInt(e.label(), true);
            out.writeString(e.path());
        }

        @Override
        public ImageFolder.Entry read(Kryo kryo, Input in, Class<ImageFolder.Entry> type) {
            return new ImageFolder.Entry(in.readInt(true), in.readInt(true), in.readString());
        }
    }

    /** The bytes as one block; the path as a string. */
    static final class ImageRecordSerializer extends Serializer<ImageRecord> {
        @Override
        public void write(Kryo kryo, Output out, ImageRecord r) {
            out.writeInt(r.id(), true);
            out.writeInt(r.label(), true);
            out.writeString(r.path());
            out.writeInt(r.bytes().length, true);
            out.writeBytes(r.bytes());
        }

        @Override
        public ImageRecord read(Kryo kryo, Input in, Class<ImageRecord> type) {
            int id = in.readInt(true), label = in.readInt(true);
            String path = in.readString();
            return new ImageRecord(id, label, path, in.readBytes(in.readInt(true)));
        }
    }

    /** A cached chunk of compressed images: the blob as one block, then the per-image arrays. */
    static final class EncodedImagesSerializer extends Serializer<EncodedImages> {
        @Override
        public void write(Kryo kryo, Output out, EncodedImages e) {
            out.writeString(e.name());
            out.writeInt(e.numClasses(), true);
            int n = e.count();
            out.writeInt(n, true);
            for (int i = 0; i < n; i++) {
                out.writeInt(e.id(i), true);
                out.writeInt(e.label(i), true);
                out.writeInt(e.length(i), true);
                out.writeString(e.path(i));
            }
            out.writeBytes(e.blob(), 0, e.byteSize()); // offsets start at 0
        }

        @Override
        public EncodedImages read(Kryo kryo, Input in, Class<EncodedImages> type) {
            String name = in.readString();
            int classes = in.readInt(true), n = in.readInt(true);
            int[] ids = new int[n], labels = new int[n], offsets = new int[n + 1];
            String[] paths = new String[n];
            for (int i = 0; i < n; i++) {
                ids[i] = in.readInt(true);
                labels[i] = in.readInt(true);
                offsets[i + 1] = offsets[i] + in.readInt(true);
                paths[i] = in.readString();
            }
            return new EncodedImages(name, in.readBytes(offsets[n]), offsets, labels, ids, paths, classes);
        }
    }

    /**
     * A local shard's index, its sources and its file name, never its bytes: an index that reaches another executor
     * (a task placed away from its shard) is rebuilt there from its sources ({@link LocalShards#local}).
     */
    static final class LocalShardSerializer extends Serializer<org.addernet.data.LocalShard> {
        @Override
        public void write(Kryo kryo, Output out, org.addernet.data.LocalShard s) {
            out.writeString(s.name());
            out.writeInt(s.numClasses(), true);
            int n = s.count();
            out.writeInt(n, true);
            for (int i = 0; i < n; i++) {
                out.writeInt(s.id(i), true);
                out.writeInt(s.label(i), true);
                out.writeInt(s.length(i), true);
                out.writeLong(s.offset(i), true);
                out.writeString(s.path(i));
            }
            String[] sources = s.sources();
            out.writeInt(sources.length, true);
            for (String f : sources) out.writeString(f);
            out.writeString(s.file());
        }

        @Override
        public org.addernet.data.LocalShard read(Kryo kryo, Input in, Class<org.addernet.data.LocalShard> type) {
            String name = in.readString();
            int classes = in.readInt(true), n = in.readInt(true);
            int[] ids = new int[n], labels = new int[n], lengths = new int[n];
            long[] offsets = new long[n];
            String[] paths = new String[n];
            for (int i = 0; i < n; i++) {
                ids[i] = in.readInt(true);
                labels[i] = in.readInt(true);
                lengths[i] = in.readInt(true);
                offsets[i] = in.readLong(true);
                paths[i] = in.readString();
            }
            String[] sources = new String[in.readInt(true)];
            for (int i = 0; i < sources.length; i++) sources[i] = in.readString();
            return new org.addernet.data.LocalShard(name, classes, ids, labels, offsets, lengths, paths, sources, in.readString());
        }
    }
}
