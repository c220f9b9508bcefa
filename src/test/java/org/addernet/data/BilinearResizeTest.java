package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.addernet.engine.Rng;
import org.junit.jupiter.api.Test;

/** PIL BILINEAR resizes of PIL-decoded pixels (scripts/make-jpeg-fixtures.py): must match bit for bit. */
class BilinearResizeTest {
    @Test
    void resizeWithBoxMatchesPil() {
        List<String[]> cases = JpegFixtures.cases("resize-box");
        assertTrue(cases.size() >= 7);
        for (String[] c : cases) {
            RgbImage src = JpegFixtures.rgb(c[1], Integer.parseInt(c[2]), Integer.parseInt(c[3]));
            int outW = Integer.parseInt(c[8]), outH = Integer.parseInt(c[9]);
            RgbImage out = BilinearResize.resize(src, outW, outH, Float.parseFloat(c[4]), Float.parseFloat(c[5]),
                    Float.parseFloat(c[6]), Float.parseFloat(c[7]));
            assertArrayEquals(JpegFixtures.bytes(c[10]), out.pixels(), String.join(" ", c));
        }
    }

    @Test
    void cropThenResizeMatchesPil() {
        List<String[]> cases = JpegFixtures.cases("crop-resize");
        assertTrue(cases.size() >= 5);
        for (String[] c : cases) {
            RgbImage src = JpegFixtures.rgb(c[1], Integer.parseInt(c[2]), Integer.parseInt(c[3]));
            int l = Integer.parseInt(c[4]), t = Integer.parseInt(c[5]), r = Integer.parseInt(c[6]), b = Integer.parseInt(c[7]);
            RgbImage out = BilinearResize.cropResize(src, l, t, r - l, b - t, Integer.parseInt(c[8]), Integer.parseInt(c[9]));
            assertArrayEquals(JpegFixtures.bytes(c[10]), out.pixels(), String.join(" ", c));
        }
    }

    /** A window of the output is exactly that part of the full output, whatever the scale. */
    @Test
    void windowIsACropOfTheFullResize() {
        Rng rng = new Rng(5);
        byte[] px = new byte[3 * 90 * 70];
        for (int i = 0; i < px.length; i++) px[i] = (byte) rng.nextInt(256);
        RgbImage src = new RgbImage(90, 70, px);
        BilinearResize r = new BilinearResize();
        for (int[] s : new int[][] {{25, 19}, {90, 70}, {200, 150}, {13, 130}}) {
            int outW = s[0], outH = s[1];
            RgbImage full = BilinearResize.cropResize(src, 4, 3, 80, 60, outW, outH);
            int wl = outW / 5, wt = outH / 3, ww = outW - wl - outW / 7, wh = outH / 2;
            byte[] win = new byte[3 * ww * wh];
            r.resize(src, 4, 3, 80, 60, outW, outH, wl, wt, ww, wh, win);
            for (int y = 0; y < wh; y++) {
                byte[] want = Arrays.copyOfRange(full.pixels(), 3 * ((wt + y) * outW + wl), 3 * ((wt + y) * outW + wl + ww));
                assertArrayEquals(want, Arrays.copyOfRange(win, 3 * y * ww, 3 * (y + 1) * ww), "row " + y + " of " + outW + "x" + outH);
            }
        }
    }

    @Test
    void sameSizeIsIdentityAndFlatStaysFlat() {
        Rng rng = new Rng(9);
        byte[] px = new byte[3 * 31 * 17];
        for (int i = 0; i < px.length; i++) px[i] = (byte) rng.nextInt(256);
        RgbImage src = new RgbImage(31, 17, px);
        assertArrayEquals(px, BilinearResize.cropResize(src, 0, 0, 31, 17, 31, 17).pixels());
        RgbImage flat = new RgbImage(50, 40, JpegDecoderTest.filled(50, 40, 7, 128, 255));
        for (int[] s : new int[][] {{3, 2}, {50, 40}, {173, 91}, {1, 1}}) {
            RgbImage out = BilinearResize.resize(flat, s[0], s[1], 0, 0, 50, 40);
            assertArrayEquals(JpegDecoderTest.filled(s[0], s[1], 7, 128, 255), out.pixels(), s[0] + "x" + s[1]);
        }
    }

    @Test
    void rejectsBadGeometry() {
        RgbImage src = new RgbImage(10, 10, new byte[300]);
        BilinearResize r = new BilinearResize();
        byte[] dst = new byte[300];
        assertThrows(IllegalArgumentException.class, () -> r.resize(src, 5, 0, 6, 10, 10, 10, 0, 0, 10, 10, dst));
        assertThrows(IllegalArgumentException.class, () -> r.resize(src, 0, 0, 10, 10, 10, 10, 1, 0, 10, 10, dst));
        assertThrows(IllegalArgumentException.class, () -> r.resize(src, 0, 0, 10, 10, 20, 20, 0, 0, 20, 20, dst));
        assertThrows(IllegalArgumentException.class, () -> BilinearResize.resize(src, 4, 4, 0, 0, 10.5f, 10));
        assertEquals(300, dst.length);
    }
}
