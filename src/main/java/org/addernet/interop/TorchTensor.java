package org.addernet.interop;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One tensor of a PyTorch state_dict as read from (or written to) a file: its element type, its shape and its
 * values, row-major. Floating-point tensors (F64, F32, F16, BF16) are held as {@code float} values (what our
 * models compute in), integer and boolean ones as {@code long} values ({@code num_batches_tracked} is int64).
 */
public record TorchTensor(DType dtype, int[] shape, float[] values, long[] longs) {
    /** Element types by their safetensors names, with the element size and PyTorch's legacy storage class. */
    public enum DType {
        F64(8, "DoubleStorage", true), F32(4, "FloatStorage", true), F16(2, "HalfStorage", true),
        BF16(2, "BFloat16Storage", true), I64(8, "LongStorage", false), I32(4, "IntStorage", false),
        I16(2, "ShortStorage", false), I8(1, "CharStorage", false), U8(1, "ByteStorage", false), BOOL(1, "BoolStorage", false);

        public final int size;
        /** {@code torch.<storageClass>}, as a pickled persistent id names the storage's type. */
        public final String storageClass;
        public final boolean floating;

        DType(int size, String storageClass, boolean floating) {
            this.size = size;
            this.storageClass = storageClass;
            this.floating = floating;
        }

        /** The type of {@code torch.<name>}, or null if {@code name} is no storage class. */
        static DType ofStorageClass(String name) {
            for (DType d : values()) if (d.storageClass.equals(name)) return d;
            return null;
        }

        /** The type named {@code name} in a safetensors header, or null. */
        static DType ofSafetensorsName(String name) {
            for (DType d : values()) if (d.name().equals(name)) return d;
            return null;
        }
    }

    public static TorchTensor ofFloats(int[] shape, float[] values) {
        return new TorchTensor(DType.F32, shape.clone(), values, null);
    }

    public static TorchTensor ofLong(long value) {
        return new TorchTensor(DType.I64, new int[0], null, new long[] {value});
    }

    public long numel() {
        return numel(shape);
    }

    static long numel(int[] shape) {
        long n = 1;
        for (int s : shape) n *= s;
        return n;
    }

    /**
     * Gathers a tensor from a little-endian storage: element {@code (i0, i1, ...)} is at storage element
     * {@code offset + sum(i_k * stride_k)}, the storage starting at byte {@code base} of {@code data}. The caller
     * has checked that every such element lies inside the storage.
     */
    static TorchTensor gather(DType dtype, int[] shape, ByteBuffer data, int base, long offset, long[] stride) {
        ByteBuffer bb = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = Math.toIntExact(numel(shape));
        float[] f = dtype.floating ? new float[n] : null;
        long[] l = dtype.floating ? null : new long[n];
        int[] idx = new int[shape.length];
        for (int i = 0; i < n; i++) {
            long e = offset;
            for (int k = 0; k < shape.length; k++) e += idx[k] * stride[k];
            int at = Math.toIntExact(base + e * dtype.size);
            if (f != null) f[i] = readFloat(dtype, bb, at);
            else l[i] = readLong(dtype, bb, at);
            for (int k = shape.length - 1; k >= 0; k--) { // row-major odometer
                if (++idx[k] < shape[k]) break;
                idx[k] = 0;
            }
        }
        return new TorchTensor(dtype, shape.clone(), f, l);
    }

    private static float readFloat(DType d, ByteBuffer bb, int at) {
        return switch (d) {
            case F32 -> bb.getFloat(at);
            case F64 -> (float) bb.getDouble(at);
            case BF16 -> Float.intBitsToFloat((bb.getShort(at) & 0xffff) << 16);
            case F16 -> halfToFloat(bb.getShort(at));
            default -> throw new IllegalStateException(d.name());
        };
    }

    private static long readLong(DType d, ByteBuffer bb, int at) {
        return switch (d) {
            case I64 -> bb.getLong(at);
            case I32 -> bb.getInt(at);
            case I16 -> bb.getShort(at);
            case I8 -> bb.get(at);
            case U8, BOOL -> bb.get(at) & 0xff;
            default -> throw new IllegalStateException(d.name());
        };
    }

    /** IEEE 754 binary16 to float, exactly (every half is a float). */
    static float halfToFloat(short h) {
        int s = (h >>> 15) & 1, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
        float v;
        if (e == 0) v = m * 0x1p-24f;
        else if (e == 31) v = m == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
        else v = Float.intBitsToFloat(((e - 15 + 127) << 23) | (m << 13));
        return s == 1 ? -v : v;
    }

    /** The values as little-endian bytes of this tensor's type (F32 or I64 only: what we write). */
    byte[] littleEndianBytes() {
        ByteBuffer bb = ByteBuffer.allocate(Math.toIntExact(numel() * dtype.size)).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> { for (float v : values) bb.putFloat(v); }
            case I64 -> { for (long v : longs) bb.putLong(v); }
            default -> throw new IllegalStateException("writing " + dtype + " tensors is not supported");
        }
        return bb.array();
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape);
    }
}
