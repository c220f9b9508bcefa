package org.addernet.train;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * bfloat16, the wire format of {@code wire=bf16}: the top 16 bits of an IEEE float32 (sign, the 8 exponent bits,
 * 7 mantissa bits), so decoding is exact (a shift) and only encoding rounds. Encoding rounds to nearest, ties to
 * even, as IEEE 754 and PyTorch's {@code tensor.to(torch.bfloat16)} do (BigDL's "FP16" truncates instead, which
 * biases every value toward zero): add {@code 0x7FFF} plus the lowest kept bit, keep the top half. That carry
 * moves into the exponent where it must, so the largest floats overflow to infinity exactly as IEEE rounding says
 * (everything from the tie {@code 0x7F7F8000} up), subnormals round like any other value, +-0 and +-Inf stay what
 * they are. A NaN becomes the canonical quiet NaN {@code 0x7FC0} (the carry could otherwise turn a NaN's payload
 * into Inf): NaN stays NaN, its payload and sign are not kept (PyTorch's vectorized path gives {@code 0xFFFF}).
 */
public final class Bf16 {
    private Bf16() {}

    /** Bytes per value on the wire. */
    public static final int BYTES = 2;
    /** The canonical quiet NaN every NaN encodes to. */
    public static final int NAN = 0x7FC0;

    /** {@code x} rounded to the nearest bfloat16 (ties to even): its 16 bits in the low half of an int. */
    public static int bits(float x) {
        int b = Float.floatToRawIntBits(x);
        if ((b & 0x7FFFFFFF) > 0x7F800000) return NAN;
        return (b + 0x7FFF + ((b >>> 16) & 1)) >>> 16;
    }

    /** The float32 value of bfloat16 bits {@code h} (exact). */
    public static float value(int h) {
        return Float.intBitsToFloat(h << 16);
    }

    /** {@code x} rounded to bfloat16 and back: the float a receiver decodes. */
    public static float round(float x) {
        return value(bits(x));
    }

    /** Rounds {@code a[from, to)} in place. */
    public static void round(float[] a, int from, int to) {
        for (int i = from; i < to; i++) a[i] = round(a[i]);
    }

    /** {@code a[from, to)} as little-endian bfloat16 into a fresh buffer of {@code 2 * (to - from)} bytes. */
    public static ByteBuffer encode(float[] a, int from, int to) {
        ByteBuffer b = ByteBuffer.allocate((to - from) * BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = from, k = 0; i < to; i++, k += BYTES) b.putShort(k, (short) bits(a[i]));
        return b;
    }

    /** {@code length} little-endian bfloat16 values from {@code src} (from its position) into {@code dst[off, off + length)}. */
    public static void decode(ByteBuffer src, float[] dst, int off, int length) {
        ByteBuffer s = src.order() == ByteOrder.LITTLE_ENDIAN ? src : src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int base = s.position();
        for (int i = 0; i < length; i++) dst[off + i] = value(s.getShort(base + i * BYTES) & 0xFFFF);
    }

    /** As {@link #decode}, but adds: {@code dst[off + i] += value_i}, the fp32 sum an owner forms. */
    public static void addTo(ByteBuffer src, float[] dst, int off, int length) {
        ByteBuffer s = src.order() == ByteOrder.LITTLE_ENDIAN ? src : src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int base = s.position();
        for (int i = 0; i < length; i++) dst[off + i] += value(s.getShort(base + i * BYTES) & 0xFFFF);
    }
}
