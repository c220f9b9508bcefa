package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.addernet.train.Bf16;
import org.junit.jupiter.api.Test;

/**
 * {@link StateBlocks#pieces}: a block received as many network buffers, cut at arbitrary bytes (inside values too,
 * empty buffers, one-byte buffers), decoded piece by piece gives the same values as the block in one buffer.
 */
class StateBlocksPiecesTest {
    /** {@code whole} cut into parts of 0 to {@code max} bytes, as direct and heap buffers in turn. */
    static ByteBuffer[] cut(byte[] whole, SplittableRandom r, int max) {
        List<ByteBuffer> parts = new ArrayList<>();
        for (int at = 0; at < whole.length; ) {
            int n = Math.min(whole.length - at, r.nextInt(max + 1));
            ByteBuffer p = parts.size() % 2 == 0 ? ByteBuffer.allocateDirect(n + 3) : ByteBuffer.allocate(n + 3);
            p.position(3); // a part's bytes need not start at 0
            p.put(whole, at, n);
            p.position(3);
            parts.add(p);
            at += n;
        }
        return parts.toArray(new ByteBuffer[0]);
    }

    @Test
    void floatsBf16AndDoublesCutAnywhereDecodeExactly() {
        SplittableRandom r = new SplittableRandom(5);
        int n = 10_007;
        float[] f = new float[n];
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            f[i] = Float.intBitsToFloat(r.nextInt());
            d[i] = Double.longBitsToDouble(r.nextLong());
        }
        ByteBuffer fb = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        fb.asFloatBuffer().put(f);
        ByteBuffer db = ByteBuffer.allocate(8 * n).order(ByteOrder.LITTLE_ENDIAN);
        db.asDoubleBuffer().put(d);
        ByteBuffer hb = Bf16.encode(f, 0, n);
        for (int max : new int[] {1, 3, 7, 64, 5000}) {
            float[] gf = new float[n + 2];
            StateBlocks.pieces("f", cut(fb.array(), r, max), 4L * n, 4, (b, i) -> b.asFloatBuffer().get(gf, 2 + i, b.remaining() / 4));
            double[] gd = new double[n];
            StateBlocks.pieces("d", cut(db.array(), r, max), 8L * n, 8, (b, i) -> b.asDoubleBuffer().get(gd, i, b.remaining() / 8));
            float[] gh = new float[n];
            StateBlocks.pieces("h", cut(hb.array(), r, max), 2L * n, 2, (b, i) -> Bf16.decode(b, gh, i, b.remaining() / 2));
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(f[i]), Float.floatToRawIntBits(gf[2 + i]), "float " + i + ", parts <= " + max);
                assertEquals(Double.doubleToRawLongBits(d[i]), Double.doubleToRawLongBits(gd[i]), "double " + i + ", parts <= " + max);
                assertEquals(Float.floatToRawIntBits(Bf16.round(f[i])), Float.floatToRawIntBits(gh[i]), "bf16 " + i + ", parts <= " + max);
            }
        }
    }

    @Test
    void aBlockOfTheWrongSizeFails() {
        ByteBuffer[] parts = {ByteBuffer.allocate(6), ByteBuffer.allocate(5)};
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> StateBlocks.pieces("x_1", parts, 12, 4, (b, i) -> {}));
        assertEquals("block x_1 has 11 bytes, expected 12", e.getMessage());
    }
}
