package org.addernet.data;

import java.util.Arrays;

/**
 * PIL's {@code BILINEAR} resize of 8-bit RGB, bit-exact with Pillow's {@code Resample.c} (the antialiased
 * version, Pillow 4+), since torchvision resizes PIL images with it:
 * <ul>
 *   <li>separable: a horizontal pass over the input rows the vertical pass needs, then a vertical pass, each
 *       rounding to uint8;</li>
 *   <li>one axis maps output pixel {@code j} to input centre {@code in0 + (j + 0.5) * scale},
 *       {@code scale = (in1 - in0) / out}; the triangle filter's support is {@code max(scale, 1)}, so a downscale
 *       averages over the whole footprint (antialiasing); the taps are
 *       {@code [(int)(centre - support + 0.5), (int)(centre + support + 0.5))} clipped to the input, weighted by
 *       {@code tri((x - centre + 0.5) / max(scale, 1))} and normalized to sum 1;</li>
 *   <li>weights in fixed point, {@code (int)(0.5 + w * 2^22)}; a sum starts at {@code 2^21} (rounding) and is
 *       clipped to 0..255 after {@code >> 22}.</li>
 * </ul>
 * The transforms need only part of a resized image (a centre crop) or a resize of part of an image (a random
 * crop): {@link #resize} computes output pixels {@code [winLeft, winLeft+winW) x [winTop, winTop+winH)} of the
 * resize of the image region {@code (left, top, w, h)} and touches only the input rows and columns those need.
 * Every output pixel is computed as in the full resize, so the result equals cropping PIL's output.
 *
 * <p>Not thread-safe (it keeps its scratch buffers): one per thread.
 */
public final class BilinearResize {
    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final int HALF = 1 << (PRECISION_BITS - 1);

    private int[] tmp = new int[0]; // horizontal-pass rows, [(y - firstRow) * winW * 3 + x * 3 + c]
    private int[] acc = new int[0]; // vertical-pass sums of one output row, [x * 3 + c]

    /**
     * Filter taps of one axis: output pixel {@code first + j} ({@code j < n}) of a resize of {@code inSize} input
     * pixels, box {@code [in0, in1)}, to {@code outSize} reads input pixels {@code base + start[j] .. + count[j]}
     * with weights {@code k[j * ksize + t]} (fixed point, {@code 2^22} = 1).
     */
    static final class Taps {
        final int n, ksize;
        final int[] start, count, k;

        Taps(int inSize, float in0, float in1, int outSize, int first, int n, int base) {
            // Pillow's precompute_coeffs + normalize_coeffs_8bpc, in the same arithmetic (the box is float there).
            double scale = (double) (in1 - in0) / outSize;
            double filterscale = Math.max(scale, 1.0);
            double support = filterscale; // the bilinear filter's support is 1
            double ss = 1.0 / filterscale;
            this.n = n;
            this.ksize = (int) Math.ceil(support) * 2 + 1;
            this.start = new int[n];
            this.count = new int[n];
            this.k = new int[n * ksize];
            double[] w = new double[ksize];
            for (int j = 0; j < n; j++) {
                double center = in0 + (first + j + 0.5) * scale;
                int xmin = Math.max((int) (center - support + 0.5), 0);
                int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
                double ww = 0;
                for (int x = 0; x < xmax; x++) {
                    double d = Math.abs((x + xmin - center + 0.5) * ss);
                    w[x] = d < 1.0 ? 1.0 - d : 0.0;
                    ww += w[x];
                }
                for (int x = 0; x < xmax; x++) {
                    double v = ww != 0.0 ? w[x] / ww : w[x];
                    k[j * ksize + x] = (int) (0.5 + v * (1 << PRECISION_BITS)); // v >= 0 for this filter
                }
                start[j] = base + xmin;
                count[j] = Math.max(xmax, 0);
            }
        }
    }

    /**
     * Window {@code (winLeft, winTop, winW, winH)} of the resize to {@code outW x outH} of the region
     * {@code (left, top, w, h)} of {@code src} (PIL: {@code src.crop((left, top, left+w, top+h)).resize((outW, outH),
     * BILINEAR)} then a crop of the window), written to {@code dst[0, winH*winW*3)} as interleaved HWC.
     */
    public void resize(RgbImage src, int left, int top, int w, int h, int outW, int outH,
                       int winLeft, int winTop, int winW, int winH, byte[] dst) {
        if (left < 0 || top < 0 || w < 1 || h < 1 || left + w > src.width() || top + h > src.height()) {
            throw new IllegalArgumentException("region (" + left + ", " + top + ", " + w + "x" + h + ") outside a "
                    + src.width() + "x" + src.height() + " image");
        }
        if (winLeft < 0 || winTop < 0 || winW < 1 || winH < 1 || winLeft + winW > outW || winTop + winH > outH) {
            throw new IllegalArgumentException("window (" + winLeft + ", " + winTop + ", " + winW + "x" + winH
                    + ") outside a " + outW + "x" + outH + " output");
        }
        if (dst.length < 3 * winW * winH) throw new IllegalArgumentException("dst has " + dst.length + " bytes, needs " + 3 * winW * winH);
        resample(src, new Taps(w, 0f, w, outW, winLeft, winW, left), new Taps(h, 0f, h, outH, winTop, winH, top), dst);
    }

    /** PIL: {@code src.resize((outW, outH), BILINEAR, box=(x0, y0, x1, y1))} (box in input pixels, inside the image). */
    public static RgbImage resize(RgbImage src, int outW, int outH, float x0, float y0, float x1, float y1) {
        if (outW < 1 || outH < 1) throw new IllegalArgumentException("bad output size " + outW + "x" + outH);
        if (x0 < 0 || y0 < 0 || x1 > src.width() || y1 > src.height() || x1 < x0 || y1 < y0) {
            throw new IllegalArgumentException("box (" + x0 + ", " + y0 + ", " + x1 + ", " + y1 + ") outside a "
                    + src.width() + "x" + src.height() + " image");
        }
        byte[] dst = new byte[3 * outW * outH];
        new BilinearResize().resample(src, new Taps(src.width(), x0, x1, outW, 0, outW, 0),
                new Taps(src.height(), y0, y1, outH, 0, outH, 0), dst);
        return new RgbImage(outW, outH, dst);
    }

    /** PIL: {@code src.crop((left, top, left+w, top+h)).resize((outW, outH), BILINEAR)}. */
    public static RgbImage cropResize(RgbImage src, int left, int top, int w, int h, int outW, int outH) {
        byte[] dst = new byte[3 * outW * outH];
        new BilinearResize().resize(src, left, top, w, h, outW, outH, 0, 0, outW, outH, dst);
        return new RgbImage(outW, outH, dst);
    }

    private void resample(RgbImage src, Taps hx, Taps vy, byte[] dst) {
        byte[] in = src.pixels();
        int inRow = 3 * src.width();
        int m3 = 3 * hx.n;
        int firstRow = Integer.MAX_VALUE, endRow = 0;
        for (int i = 0; i < vy.n; i++) {
            firstRow = Math.min(firstRow, vy.start[i]);
            endRow = Math.max(endRow, vy.start[i] + vy.count[i]);
        }
        int rows = Math.max(endRow - firstRow, 0);
        if (tmp.length < rows * m3) tmp = new int[rows * m3];
        if (acc.length < m3) acc = new int[m3];
        int[] t = tmp, a = acc;
        // Horizontal pass: the window's columns, for every input row a window row reads.
        int hk = hx.ksize;
        for (int y = 0; y < rows; y++) {
            int rowBase = (firstRow + y) * inRow, o = y * m3;
            for (int j = 0; j < hx.n; j++, o += 3) {
                int s0 = HALF, s1 = HALF, s2 = HALF;
                int p = rowBase + 3 * hx.start[j], kb = j * hk;
                for (int q = 0, cnt = hx.count[j]; q < cnt; q++, p += 3) {
                    int kv = hx.k[kb + q];
                    s0 += (in[p] & 0xFF) * kv;
                    s1 += (in[p + 1] & 0xFF) * kv;
                    s2 += (in[p + 2] & 0xFF) * kv;
                }
                t[o] = clip8(s0);
                t[o + 1] = clip8(s1);
                t[o + 2] = clip8(s2);
            }
        }
        // Vertical pass: one output row at a time, accumulating whole rows of tmp (a loop C2 vectorizes).
        int vk = vy.ksize;
        for (int i = 0; i < vy.n; i++) {
            Arrays.fill(a, 0, m3, HALF);
            for (int q = 0, cnt = vy.count[i]; q < cnt; q++) {
                int kv = vy.k[i * vk + q];
                int r = (vy.start[i] + q - firstRow) * m3;
                for (int x = 0; x < m3; x++) a[x] += t[r + x] * kv;
            }
            int o = i * m3;
            for (int x = 0; x < m3; x++) dst[o + x] = (byte) clip8(a[x]);
        }
    }

    private static int clip8(int v) {
        int q = v >> PRECISION_BITS;
        return q < 0 ? 0 : Math.min(q, 255);
    }
}
