package org.addernet.data;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentSampleModel;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.spi.IIORegistry;
import javax.imageio.spi.ImageReaderSpi;
import javax.imageio.stream.ImageInputStreamImpl;

/**
 * Compressed image bytes to 8-bit RGB ({@link RgbImage}, interleaved HWC), with the pixels PIL's
 * {@code Image.open(f).convert('RGB')} gives, which is what torchvision's ImageFolder feeds its transforms:
 * <ul>
 *   <li>the reader is chosen from the content, not the file name (ImageNet has a PNG named {@code .JPEG});
 *       any format the JDK's ImageIO reads works (JPEG, PNG, GIF, BMP, TIFF);</li>
 *   <li>grayscale is replicated to three channels; an alpha channel is dropped (not composited), palettes are
 *       looked up, as PIL's convert does;</li>
 *   <li>CMYK and YCCK JPEGs come out as PIL converts them: from the raw raster, Adobe-convention (inverted) CMYK
 *       values, YCC to RGB with libjpeg's integer tables, then PIL's {@code cmyk2rgb}, {@code r = 255-k - (c*(255-k))/255};</li>
 *   <li>an embedded ICC profile is ignored, as PIL ignores it (the JDK would convert to sRGB);</li>
 *   <li>a truncated, corrupt, empty or non-image input throws {@link DataFormatException} naming the source path.
 *       The JPEG reader only <i>warns</i> on a truncated file and returns a partly grey image; those
 *       warnings are errors here, as PIL's "image file is truncated" is. Other libjpeg warnings (e.g. extraneous
 *       bytes before a marker, which a few ImageNet files have) are ignored, as PIL ignores them.</li>
 * </ul>
 * JPEG pixels could differ from PIL's (libjpeg-turbo) by IDCT/upsampling rounding, so the tests allow a mean
 * absolute difference below 1 and a maximum of 8 levels (lossless formats must be exact); on the fixtures and the
 * synthetic ImageNet they are identical, both decoders using libjpeg's default islow IDCT and fancy upsampling.
 *
 * <p>Not thread-safe: one decoder per thread. It keeps one {@link ImageReader} per format and reuses it, which
 * saves the reader's set-up (native libjpeg state) on every image: measured at 0-4% of a 0.15-megapixel image's
 * decode time, small but free; {@link #close} disposes them.
 */
public final class JpegDecoder implements AutoCloseable {
    /** PIL's decompression-bomb limit (twice {@code Image.MAX_IMAGE_PIXELS}): larger images are rejected, as there. */
    public static final long MAX_PIXELS = 2L * (1024L * 1024 * 1024 / 4 / 3);

    private static final ImageReaderSpi[] SPIS = readerSpis();
    private static final int JPEG = 0; // SPIS[0] is the JPEG reader: checked first; CMYK and ICC handling is for it only

    private final ImageReader[] readers = new ImageReader[SPIS.length]; // created on first use, reused
    private String truncation; // first truncation warning of the read in progress, or null

    /** Decodes the whole array. */
    public RgbImage decode(byte[] data, String path) {
        return decode(data, 0, data.length, path);
    }

    /** Decodes {@code data[off, off+len)}; {@code path} is only used in error messages. */
    public RgbImage decode(byte[] data, int off, int len, String path) {
        return read(data, off, len, path, true);
    }

    /**
     * Decodes fully (so that truncation and corruption are found) without building the RGB copy: what a shard
     * builder runs once per image so that training never meets an undecodable file.
     */
    public void validate(byte[] data, int off, int len, String path) {
        read(data, off, len, path, false);
    }

    /** Decodes; returns the RGB image if {@code convert}, else null. */
    private RgbImage read(byte[] data, int off, int len, String path, boolean convert) {
        Objects.checkFromIndexSize(off, len, data.length);
        if (len == 0) throw new DataFormatException(path + ": empty file, not an image");
        int r = readerIndex(new BytesInput(data, off, len));
        if (r < 0) {
            throw new DataFormatException(path + ": not an image in a format ImageIO reads (first bytes "
                    + hex(data, off, Math.min(len, 8)) + ")");
        }
        ImageReader reader = reader(r);
        boolean ok = false;
        try {
            truncation = null;
            reader.setInput(new BytesInput(data, off, len), true, true);
            int w = reader.getWidth(0), h = reader.getHeight(0);
            if ((long) w * h > MAX_PIXELS) {
                throw new DataFormatException(path + ": " + w + "x" + h + " image exceeds " + MAX_PIXELS
                        + " pixels (a decompression bomb to PIL too)");
            }
            RgbImage out;
            JpegHeader header = r == JPEG ? JpegHeader.parse(data, off, len) : null;
            if (header != null && header.components() == 4) {
                // CMYK/YCCK: the raw raster (no colour conversion), converted here as libjpeg + PIL do; the JDK's
                // own CMYK support differs between versions (older ones refuse with "Unsupported Image Type").
                Raster raster = reader.readRaster(0, null);
                checkTruncation(path);
                out = convert ? fromRawCmyk(raster, header.adobeTransform()) : null;
            } else {
                BufferedImage bi = reader.read(0, r == JPEG ? keepEmbeddedProfile(reader) : null);
                checkTruncation(path);
                out = convert ? toRgb(bi.getRaster(), bi.getColorModel(), path) : null;
            }
            ok = true;
            return out;
        } catch (DataFormatException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            String what = String.valueOf(e.getMessage());
            if (e.getCause() != null && e.getCause().getMessage() != null) what += " (" + e.getCause().getMessage() + ")";
            if (truncation != null) what = "truncated (" + truncation + "): " + what;
            throw new DataFormatException(path + ": cannot decode " + SPIS[r].getFormatNames()[0].toUpperCase(Locale.ROOT)
                    + " image: " + what, e);
        } finally {
            if (ok) {
                reader.setInput(null); // drop the reference to the bytes; keep the reader
            } else {
                reader.dispose(); // its state after a failure is not worth trusting
                readers[r] = null;
            }
        }
    }

    private void checkTruncation(String path) {
        if (truncation != null) throw new DataFormatException(path + ": truncated image (" + truncation + ")");
    }

    /**
     * The JDK's JPEG reader converts an image with an embedded ICC profile to sRGB by default; PIL ignores the
     * profile and returns the decoded values. Asking for the embedded colour space itself (which the reader offers
     * as an extra image type) skips the conversion. Only for a profile of the same colour-space family (RGB for
     * RGB, gray for gray): the reader refuses others ("Incompatible color conversion"), and those malformed files
     * (e.g. a Lab profile on a YCbCr JPEG) keep the JDK's conversion.
     */
    private static ImageReadParam keepEmbeddedProfile(ImageReader reader) throws IOException {
        ImageTypeSpecifier raw = reader.getRawImageType(0);
        if (raw == null) return null;
        ColorSpace rawCs = raw.getColorModel().getColorSpace();
        for (Iterator<ImageTypeSpecifier> it = reader.getImageTypes(0); it.hasNext(); ) {
            ImageTypeSpecifier t = it.next();
            ColorSpace cs = t.getColorModel().getColorSpace();
            if (cs != rawCs && cs.getType() == rawCs.getType() && cs.getNumComponents() == rawCs.getNumComponents()) {
                ImageReadParam p = reader.getDefaultReadParam();
                p.setDestinationType(t);
                return p;
            }
        }
        return null;
    }

    private ImageReader reader(int r) {
        ImageReader reader = readers[r];
        if (reader == null) {
            try {
                reader = SPIS[r].createReaderInstance();
            } catch (IOException e) {
                throw new IllegalStateException("cannot create an ImageIO " + SPIS[r].getFormatNames()[0] + " reader", e);
            }
            reader.addIIOReadWarningListener((source, message) -> {
                if (truncation == null && isTruncation(message)) truncation = message;
            });
            readers[r] = reader;
        }
        return reader;
    }

    /** libjpeg's JWRN_JPEG_EOF / JWRN_HIT_MARKER and the JDK's own "Truncated File - Missing EOI marker". */
    static boolean isTruncation(String warning) {
        String w = String.valueOf(warning).toLowerCase(Locale.ROOT);
        return w.contains("premature end") || w.contains("truncated");
    }

    @Override
    public void close() {
        for (int i = 0; i < readers.length; i++) {
            if (readers[i] != null) readers[i].dispose();
            readers[i] = null;
        }
    }

    /** What {@code ImageIO.getImageReaders(stream)} does, from a fixed provider list: the first that recognizes the content. */
    private static int readerIndex(BytesInput in) {
        for (int i = 0; i < SPIS.length; i++) {
            try {
                in.seek(0); // a provider that failed may have left the position anywhere
                if (SPIS[i].canDecodeInput(in)) return i;
            } catch (IOException e) {
                // e.g. EOFException: too short to be this format (ImageIO's own filter says "no" likewise)
            }
        }
        return -1;
    }

    private static ImageReaderSpi[] readerSpis() {
        List<ImageReaderSpi> list = new ArrayList<>();
        Iterator<ImageReaderSpi> it = IIORegistry.getDefaultInstance().getServiceProviders(ImageReaderSpi.class, true);
        while (it.hasNext()) list.add(it.next());
        // JPEG first (nearly every input), then PNG; the rest keep the registry's order.
        list.sort((a, b) -> Integer.compare(rank(a), rank(b)));
        if (list.isEmpty() || rank(list.get(0)) != 0) throw new IllegalStateException("this JDK's ImageIO has no JPEG reader");
        return list.toArray(new ImageReaderSpi[0]);
    }

    private static int rank(ImageReaderSpi spi) {
        List<String> names = Arrays.asList(spi.getFormatNames());
        return names.contains("jpeg") || names.contains("JPEG") ? 0 : names.contains("png") || names.contains("PNG") ? 1 : 2;
    }

    /**
     * The colour-converted decoded image to interleaved RGB. The common cases (8-bit interleaved RGB, gray) copy
     * straight from the DataBuffer; the rest (palettes, CMYK, 16-bit or packed samples) go row by row through
     * {@link Raster#getPixels}, still without a per-pixel call.
     */
    static RgbImage toRgb(Raster raster, ColorModel cm, String path) {
        int w = raster.getWidth(), h = raster.getHeight();
        byte[] out = new byte[3 * w * h];
        int comps = cm.getNumColorComponents();
        boolean indexed = cm instanceof IndexColorModel;
        boolean cmyk = comps == 4 && cm.getColorSpace().getType() == ColorSpace.TYPE_CMYK;
        if (!indexed && comps != 1 && comps != 3 && !cmyk) {
            throw new DataFormatException(path + ": unsupported colour model (" + comps + " colour components, "
                    + "colour space type " + cm.getColorSpace().getType() + ")");
        }
        if (!indexed && (comps == 1 || comps == 3) && copyBytes(raster, comps, out)) return new RgbImage(w, h, out);
        int bands = raster.getNumBands();
        int[] row = new int[w * bands];
        int[] bits = raster.getSampleModel().getSampleSize();
        byte[][] palette = null;
        if (indexed) {
            IndexColorModel icm = (IndexColorModel) cm;
            palette = new byte[3][icm.getMapSize()];
            icm.getReds(palette[0]);
            icm.getGreens(palette[1]);
            icm.getBlues(palette[2]);
        }
        for (int y = 0, o = 0; y < h; y++) {
            raster.getPixels(raster.getMinX(), raster.getMinY() + y, w, 1, row);
            if (!indexed) for (int b = 0; b < bands; b++) to8Bits(row, b, bands, bits[b]);
            for (int x = 0, p = 0; x < w; x++, p += bands, o += 3) {
                if (indexed) {
                    int i = row[p];
                    out[o] = palette[0][i];
                    out[o + 1] = palette[1][i];
                    out[o + 2] = palette[2][i];
                } else if (comps == 1) {
                    out[o] = out[o + 1] = out[o + 2] = (byte) row[p];
                } else if (comps == 3) {
                    out[o] = (byte) row[p];
                    out[o + 1] = (byte) row[p + 1];
                    out[o + 2] = (byte) row[p + 2];
                } else {
                    cmykToRgb(row[p], row[p + 1], row[p + 2], row[p + 3], out, o);
                }
            }
        }
        return new RgbImage(w, h, out);
    }

    /** Scales band {@code b} of a row of samples to 0..255: high byte of wider samples, PIL's scaling of 1/2/4-bit. */
    private static void to8Bits(int[] row, int b, int bands, int bits) {
        if (bits == 8) return;
        int max = (1 << bits) - 1;
        for (int p = b; p < row.length; p += bands) row[p] = bits > 8 ? row[p] >>> (bits - 8) : row[p] * 255 / max;
    }

    /** The fast path: 8-bit samples interleaved in one byte bank (what the JPEG and PNG readers produce for RGB/gray). */
    private static boolean copyBytes(Raster raster, int comps, byte[] out) {
        if (!(raster.getSampleModel() instanceof ComponentSampleModel sm) || !(raster.getDataBuffer() instanceof DataBufferByte db)) {
            return false;
        }
        for (int b = 0; b < raster.getNumBands(); b++) {
            if (sm.getSampleSize(b) != 8 || sm.getBankIndices()[b] != 0) return false;
        }
        byte[] src = db.getData(0);
        int w = raster.getWidth(), h = raster.getHeight();
        int ps = sm.getPixelStride(), ss = sm.getScanlineStride();
        int[] bo = sm.getBandOffsets();
        // Sample (x, y, band) of the raster lives at src[origin + y*ss + x*ps + bo[band]].
        int origin = db.getOffsets()[0] + (raster.getMinY() - raster.getSampleModelTranslateY()) * ss
                + (raster.getMinX() - raster.getSampleModelTranslateX()) * ps;
        if (comps == 3) {
            int r = bo[0], g = bo[1], b = bo[2];
            for (int y = 0, o = 0; y < h; y++) {
                for (int x = 0, p = origin + y * ss; x < w; x++, p += ps, o += 3) {
                    out[o] = src[p + r];
                    out[o + 1] = src[p + g];
                    out[o + 2] = src[p + b];
                }
            }
        } else {
            int g = bo[0];
            for (int y = 0, o = 0; y < h; y++) {
                for (int x = 0, p = origin + y * ss + g; x < w; x++, p += ps, o += 3) out[o] = out[o + 1] = out[o + 2] = src[p];
            }
        }
        return true;
    }

    /** PIL's cmyk2rgb (Convert.c): {@code r = clip(255-k - MULDIV255(c, 255-k))}, likewise g, b; CMYK in PIL's (un-inverted) convention. */
    private static void cmykToRgb(int c, int m, int y, int k, byte[] out, int o) {
        int nk = 255 - k;
        out[o] = (byte) (nk - mulDiv255(c, nk));
        out[o + 1] = (byte) (nk - mulDiv255(m, nk));
        out[o + 2] = (byte) (nk - mulDiv255(y, nk));
    }

    private static int mulDiv255(int a, int b) {
        int t = a * b + 128;
        return ((t >> 8) + t) >> 8;
    }

    // libjpeg's jdcolor.c YCC->RGB tables (SCALEBITS 16): Cr->R, Cb->B rounded; Cb->G and Cr->G scaled, ONE_HALF in Cb->G.
    private static final int[] CR_R = new int[256], CB_B = new int[256], CR_G = new int[256], CB_G = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            int x = i - 128;
            CR_R[i] = (int) ((fix(1.40200) * x + (1L << 15)) >> 16);
            CB_B[i] = (int) ((fix(1.77200) * x + (1L << 15)) >> 16);
            CR_G[i] = (int) (-fix(0.71414) * x);
            CB_G[i] = (int) (-fix(0.34414) * x + (1L << 15));
        }
    }

    private static long fix(double v) {
        return (long) (v * (1L << 16) + 0.5);
    }

    /**
     * A raw 4-band JPEG raster (no colour conversion: what {@link ImageReader#readRaster} returns) to RGB as
     * libjpeg+PIL decode it. libjpeg turns YCCK ({@code adobeTransform == 2}) into CMYK with
     * {@code c = 255 - (y + CrR[cr])} etc. and passes K through; PIL then reads every 4-channel JPEG as
     * Adobe-inverted CMYK ("CMYK;I"), so the values to convert are {@code y + CrR[cr]} (clamped) and
     * {@code 255 - k} for YCCK, and {@code 255 - v} for plain CMYK, with or without an Adobe marker.
     */
    static RgbImage fromRawCmyk(Raster raster, int adobeTransform) {
        int w = raster.getWidth(), h = raster.getHeight();
        byte[] out = new byte[3 * w * h];
        int[] row = new int[4 * w];
        for (int y = 0, o = 0; y < h; y++) {
            raster.getPixels(raster.getMinX(), raster.getMinY() + y, w, 1, row);
            for (int x = 0, p = 0; x < w; x++, p += 4, o += 3) {
                int c, m, yy, k = 255 - row[p + 3];
                if (adobeTransform == 2) {
                    int lum = row[p], cb = row[p + 1], cr = row[p + 2];
                    c = clamp(lum + CR_R[cr]);
                    m = clamp(lum + ((CB_G[cb] + CR_G[cr]) >> 16));
                    yy = clamp(lum + CB_B[cb]);
                } else {
                    c = 255 - row[p];
                    m = 255 - row[p + 1];
                    yy = 255 - row[p + 2];
                }
                cmykToRgb(c, m, yy, k, out, o);
            }
        }
        return new RgbImage(w, h, out);
    }

    private static int clamp(int v) {
        return v < 0 ? 0 : Math.min(v, 255);
    }

    /**
     * What the JPEG headers before the first scan say: the frame's component count ({@code -1} if no frame header was
     * found) and the transform byte of an Adobe APP14 marker (0 none/CMYK/RGB, 1 YCbCr, 2 YCCK; {@code -1} if absent).
     */
    record JpegHeader(int components, int adobeTransform) {
        static JpegHeader parse(byte[] d, int off, int len) {
            int end = off + len, p = off + 2; // after SOI
            int components = -1, transform = -1;
            while (p + 4 <= end) {
                if ((d[p] & 0xFF) != 0xFF) break;
                int marker = d[p + 1] & 0xFF;
                if (marker == 0xFF) { // fill byte
                    p++;
                    continue;
                }
                if (marker == 0xDA || marker == 0xD9) break; // scan data or end: no more headers
                if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { // standalone markers
                    p += 2;
                    continue;
                }
                int segLen = ((d[p + 2] & 0xFF) << 8) | (d[p + 3] & 0xFF);
                boolean sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
                if (sof && p + 9 < end) {
                    components = d[p + 9] & 0xFF; // length(2), precision(1), height(2), width(2), components(1)
                } else if (marker == 0xEE && segLen >= 12 && p + 2 + segLen <= end && d[p + 4] == 'A' && d[p + 5] == 'd'
                        && d[p + 6] == 'o' && d[p + 7] == 'b' && d[p + 8] == 'e') {
                    transform = d[p + 15] & 0xFF; // "Adobe", version(2), flags0(2), flags1(2), transform(1)
                }
                p += 2 + segLen;
            }
            return new JpegHeader(components, transform);
        }
    }

    private static String hex(byte[] d, int off, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append(i == 0 ? "" : " ").append(String.format("%02x", d[off + i] & 0xFF));
        return sb.toString();
    }

    /** An ImageInputStream over a byte range, without the copy into a cache that MemoryCacheImageInputStream makes. */
    private static final class BytesInput extends ImageInputStreamImpl {
        private final byte[] data;
        private final int off, len;

        BytesInput(byte[] data, int off, int len) {
            this.data = data;
            this.off = off;
            this.len = len;
        }

        @Override
        public int read() throws IOException {
            checkClosed();
            bitOffset = 0;
            return streamPos < len ? data[off + (int) streamPos++] & 0xFF : -1;
        }

        @Override
        public int read(byte[] b, int o, int n) throws IOException {
            checkClosed();
            Objects.checkFromIndexSize(o, n, b.length);
            bitOffset = 0;
            if (n == 0) return 0;
            if (streamPos >= len) return -1;
            int k = (int) Math.min(n, len - streamPos);
            System.arraycopy(data, off + (int) streamPos, b, o, k);
            streamPos += k;
            return k;
        }

        @Override
        public long length() {
            return len;
        }
    }
}
