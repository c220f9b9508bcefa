package org.addernet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@code wire=bf16}'s rounding against PyTorch ({@code scripts/make-bf16-fixture.py}: 4,370 hand-picked float32
 * patterns and what {@code tensor.to(torch.bfloat16)} made of them) and against the definition itself, computed in
 * double: the result is one of the two bfloat16 neighbours of x, the nearer one, the even one on a tie, with
 * {@code 2^128} standing for infinity above the largest finite value (IEEE's overflow rule).
 */
class Bf16Test {
    /** {float32 bits, bfloat16 bits} of the fixture. */
    static List<int[]> fixture() throws IOException {
        List<int[]> r = new ArrayList<>();
        try (InputStream in = Bf16Test.class.getResourceAsStream("/bf16/torch-rne.txt")) {
            if (in == null) fail("fixture bf16/torch-rne.txt missing");
            BufferedReader br = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            for (String line; (line = br.readLine()) != null; ) {
                if (line.startsWith("#") || line.isBlank()) continue;
                String[] f = line.trim().split(" ");
                r.add(new int[] {(int) Long.parseLong(f[0], 16), Integer.parseInt(f[1], 16)});
            }
        }
        return r;
    }

    @Test
    void matchesPyTorchOnTheFixture() throws IOException {
        List<int[]> f = fixture();
        assertTrue(f.size() > 4000, "fixture has " + f.size() + " values");
        int ties = 0, nans = 0, subnormals = 0, overflows = 0;
        for (int[] e : f) {
            float x = Float.intBitsToFloat(e[0]);
            int ours = Bf16.bits(x);
            if (Float.isNaN(x)) {
                nans++;
                assertTrue(Float.isNaN(Bf16.value(e[1])), "torch keeps NaN " + hex(e[0]));
                assertEquals(Bf16.NAN, ours, "NaN " + hex(e[0]) + " encodes to the canonical NaN");
                continue;
            }
            if ((e[0] & 0xFFFF) == 0x8000) ties++;
            if ((e[0] & 0x7F800000) == 0 && (e[0] & 0x7FFFFF) != 0) subnormals++;
            if (!Float.isInfinite(x) && Float.isInfinite(Bf16.value(e[1]))) overflows++;
            assertEquals(e[1], ours, "bf16 of " + hex(e[0]) + " (" + x + ")");
        }
        // The fixture covers what it claims to.
        assertTrue(ties > 300 && nans >= 8 && subnormals > 100 && overflows >= 4,
                "ties " + ties + ", NaNs " + nans + ", subnormals " + subnormals + ", overflows " + overflows);
    }

    /** The definition, in double arithmetic (exact here): the nearer of the two neighbours, ties to even. */
    static int reference(int b) {
        float x = Float.intBitsToFloat(b);
        if (Float.isInfinite(x)) return b >>> 16;
        int lo = b >>> 16, hi = lo + 1; // sign-magnitude: lo is x truncated toward zero, hi one bf16 ulp further out
        double ax = Math.abs((double) x), alo = Math.abs((double) Bf16.value(lo));
        double ahi = (hi & 0x7FFF) == 0x7F80 ? Math.scalb(1.0, 128) : Math.abs((double) Bf16.value(hi));
        double dlo = ax - alo, dhi = ahi - ax;
        if (dlo < 0 || dhi <= 0) throw new AssertionError("not between its neighbours: " + hex(b));
        if (dlo != dhi) return dlo < dhi ? lo : hi;
        return (lo & 1) == 0 ? lo : hi;
    }

    static void check(int b) {
        float x = Float.intBitsToFloat(b);
        int h = Bf16.bits(x);
        if (Float.isNaN(x)) {
            if (!Float.isNaN(Bf16.value(h))) fail("NaN " + hex(b) + " became " + Integer.toHexString(h));
            return;
        }
        int want = reference(b);
        if (h != want) fail("bf16 of " + hex(b) + " (" + x + "): " + Integer.toHexString(h) + ", the nearest is " + Integer.toHexString(want));
        if (Bf16.round(x) != Bf16.value(want) && !(x == 0)) fail("round(" + x + ")");
    }

    @Test
    void isTheNearestNeighbourTiesToEvenEverywhere() throws IOException {
        for (int[] e : fixture()) check(e[0]);
        // Every 65,537th float32 pattern (all exponents and signs, every low half in turn), and random ones.
        for (long b = 0; b <= 0xFFFFFFFFL; b += 65_537) check((int) b);
        SplittableRandom r = new SplittableRandom(8);
        for (int i = 0; i < 1_000_000; i++) check(r.nextInt());
        // Every low half under one even and one odd pattern, in the normal range and among the subnormals.
        for (int hi : new int[] {0x3F80, 0x3F81, 0x0000, 0x0001, 0x807F, 0x7F7F, 0xFF7E}) {
            for (int lo = 0; lo < 0x10000; lo++) check((hi << 16) | lo);
        }
    }

    @Test
    void specialValues() {
        assertEquals(0x0000, Bf16.bits(0f));
        assertEquals(0x8000, Bf16.bits(-0f), "-0 keeps its sign");
        assertEquals(0x7F80, Bf16.bits(Float.POSITIVE_INFINITY));
        assertEquals(0xFF80, Bf16.bits(Float.NEGATIVE_INFINITY));
        assertEquals(0x7F80, Bf16.bits(Float.MAX_VALUE), "the largest float overflows to Inf");
        assertEquals(0xFF80, Bf16.bits(-Float.MAX_VALUE));
        assertEquals(0x7F7F, Bf16.bits(Float.intBitsToFloat(0x7F7F7FFF)), "just below the tie stays finite");
        assertEquals(0x0000, Bf16.bits(Float.MIN_VALUE), "the smallest subnormal rounds to 0");
        assertEquals(0x3F80, Bf16.bits(Float.intBitsToFloat(0x3F808000)), "tie, even below: down");
        assertEquals(0x3F82, Bf16.bits(Float.intBitsToFloat(0x3F818000)), "tie, odd below: up");
        assertTrue(Float.isNaN(Bf16.round(Float.NaN)));
        assertTrue(Float.isNaN(Bf16.round(Float.intBitsToFloat(0x7F800001))), "a signalling NaN with the smallest payload stays NaN, not Inf");
    }

    @Test
    void decodingIsExactAndEncodingRoundTrips() {
        for (int h = 0; h < 0x10000; h++) {
            assertEquals(h << 16, Float.floatToRawIntBits(Bf16.value(h)));
            if (!Float.isNaN(Bf16.value(h))) assertEquals(h, Bf16.bits(Bf16.value(h)));
        }
    }

    @Test
    void buffersRoundTripAndAdd() {
        float[] a = {1f, -2.5f, 1.00390625f, 3.1415927f, -0f, 65504f, 1e-40f};
        ByteBuffer b = Bf16.encode(a, 1, 6);
        assertEquals(10, b.capacity());
        assertEquals(ByteOrder.LITTLE_ENDIAN, b.order());
        float[] d = new float[7];
        Bf16.decode(b, d, 2, 5);
        for (int i = 1; i < 6; i++) assertEquals(Float.floatToRawIntBits(Bf16.round(a[i])), Float.floatToRawIntBits(d[i + 1]), "element " + i);
        // Little-endian on the wire: 1.00390625 is 0x3F80 + one half ulp, a tie below an even mantissa -> 0x3F80.
        assertEquals((byte) 0x80, b.get(2));
        assertEquals((byte) 0x3F, b.get(3));
        float[] s = {10f, 10f, 10f, 10f, 10f};
        Bf16.addTo(b, s, 0, 5);
        for (int i = 0; i < 5; i++) assertEquals(10f + Bf16.round(a[i + 1]), s[i]);
    }

    /**
     * The buffer codecs over many chunks (their loops work 4,096 values at a time), on every bfloat16 pattern, every
     * tie and a random sample of float32 patterns (NaNs, infinities, +-0, subnormals among them), at an odd offset:
     * each value is {@link Bf16#bits} of its float, little-endian; decoding and adding give exactly value(bits).
     */
    @Test
    void buffersAgreeWithTheScalarDefinitionOverManyChunks() {
        SplittableRandom r = new SplittableRandom(17);
        int n = 3 * 0x10000 + 4099;
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            int bits = i < 0x10000 ? i << 16 // every bfloat16 value exactly
                    : i < 0x20000 ? ((i - 0x10000) << 16) | 0x8000 // every tie
                    : r.nextInt(); // anything
            a[i] = Float.intBitsToFloat(bits);
        }
        int from = 3, to = n - 5;
        ByteBuffer b = Bf16.encode(a, from, to);
        assertEquals(2 * (to - from), b.capacity());
        for (int i = from; i < to; i++) {
            int want = Bf16.bits(a[i]);
            int got = (b.get(2 * (i - from)) & 0xFF) | (b.get(2 * (i - from) + 1) & 0xFF) << 8;
            if (want != got) fail("encode of " + hex(Float.floatToRawIntBits(a[i])) + ": " + Integer.toHexString(got) + ", want " + Integer.toHexString(want));
        }
        float[] d = new float[n + 7];
        Bf16.decode(b, d, 7, to - from);
        float[] s = new float[to - from];
        for (int i = 0; i < s.length; i++) s[i] = i * 0.25f - 3f;
        float[] s0 = s.clone();
        Bf16.addTo(b, s, 0, s.length);
        for (int i = 0; i < to - from; i++) {
            float v = Bf16.value(Bf16.bits(a[from + i]));
            assertEquals(Float.floatToRawIntBits(v), Float.floatToRawIntBits(d[7 + i]), "decode " + i);
            assertEquals(Float.floatToRawIntBits(s0[i] + v), Float.floatToRawIntBits(s[i]), "addTo " + i);
        }
        // A buffer whose position is not 0 is read from its position.
        ByteBuffer moved = ByteBuffer.allocate(b.capacity() + 6).order(ByteOrder.BIG_ENDIAN);
        moved.position(6);
        moved.put(b.duplicate());
        moved.position(6);
        float[] e = new float[to - from];
        Bf16.decode(moved, e, 0, e.length);
        for (int i = 0; i < e.length; i++) assertEquals(Float.floatToRawIntBits(d[7 + i]), Float.floatToRawIntBits(e[i]), "moved " + i);
    }

    static String hex(int b) {
        return String.format("%08x", b);
    }
}
