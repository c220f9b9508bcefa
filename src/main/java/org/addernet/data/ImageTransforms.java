package org.addernet.data;

import org.addernet.engine.Rng;

/**
 * torchvision's ImageNet transforms on a decoded {@link RgbImage}, written as normalized CHW float32 into
 * {@code x[xOff, xOff + 3*size*size)} (channel {@code c}, row {@code r}, column {@code col} at
 * {@code xOff + (c*size + r)*size + col}):
 * <ul>
 *   <li>training: {@code RandomResizedCrop(size, scale, ratio)}, {@code RandomHorizontalFlip(0.5)},
 *       {@code ToTensor()}, {@code Normalize(mean, std)};</li>
 *   <li>evaluation: {@code Resize(resizeSize)}, {@code CenterCrop(size)}, {@code ToTensor()}, {@code Normalize(mean, std)}.</li>
 * </ul>
 * Resizing is PIL's antialiased BILINEAR ({@link BilinearResize}), bit-exact, since torchvision applies these
 * transforms to PIL images; the crop is resampled straight from the decoded image, and the evaluation resize
 * computes only the centre window. Normalization is {@code (v / 255f - mean[c]) / std[c]} in float32, as
 * PyTorch computes it.
 *
 * <p>Training draws, in torchvision's order, from the generator given (for a dataset sample:
 * {@code Rng.derive(seed, Rng.AUGMENT, epoch, id)}, so a sample's result depends only on (seed, epoch, id)): per
 * crop attempt a scale and a log-ratio ({@link Rng#nextDouble}; torch draws them in float32), on acceptance the
 * top then the left offset ({@link Rng#nextInt}), then the flip ({@code nextFloat() < 0.5f}).
 *
 * <p>Immutable and thread-safe; the per-thread state is the {@link BilinearResize} and the byte buffer passed in.
 */
public final class ImageTransforms {
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};
    public static final int DEFAULT_SIZE = 224, DEFAULT_RESIZE = 256;
    /** RandomResizedCrop defaults: area fraction and aspect ratio (w/h) ranges. */
    public static final double MIN_SCALE = 0.08, MAX_SCALE = 1.0, MIN_RATIO = 3.0 / 4.0, MAX_RATIO = 4.0 / 3.0;
    /** RandomResizedCrop's number of tries before its centre-crop fallback. */
    private static final int ATTEMPTS = 10;

    /** A crop box in image pixels, torchvision's {@code (i, j, h, w)}. */
    public record Box(int top, int left, int height, int width) {
    }

    private final int size, resizeSize;
    private final double minScale, maxScale, minRatio, maxRatio, logMinRatio, logMaxRatio;
    private final float[] lut; // [c * 256 + v]: normalized value of 8-bit value v in channel c

    /** 224 / 256 with the ImageNet defaults. */
    public ImageTransforms() {
        this(DEFAULT_SIZE, DEFAULT_RESIZE);
    }

    /** Output {@code size} (crop side) and evaluation {@code resizeSize} (shorter side before the centre crop), ImageNet defaults otherwise. */
    public ImageTransforms(int size, int resizeSize) {
        this(size, resizeSize, MIN_SCALE, MAX_SCALE, MIN_RATIO, MAX_RATIO, IMAGENET_MEAN, IMAGENET_STD);
    }

    public ImageTransforms(int size, int resizeSize, double minScale, double maxScale, double minRatio, double maxRatio,
                           float[] mean, float[] std) {
        if (size < 1 || resizeSize < size) {
            throw new IllegalArgumentException("need 1 <= size <= resizeSize, got size " + size + ", resizeSize " + resizeSize);
        }
        if (!(minScale > 0 && minScale <= maxScale && maxScale <= 1)) {
            throw new IllegalArgumentException("need 0 < minScale <= maxScale <= 1, got " + minScale + ", " + maxScale);
        }
        if (!(minRatio > 0 && minRatio <= maxRatio)) {
            throw new IllegalArgumentException("need 0 < minRatio <= maxRatio, got " + minRatio + ", " + maxRatio);
        }
        if (mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("mean/std need 3 values (RGB), got " + mean.length + "/" + std.length);
        }
        this.size = size;
        this.resizeSize = resizeSize;
        this.minScale = minScale;
        this.maxScale = maxScale;
        this.minRatio = minRatio;
        this.maxRatio = maxRatio;
        this.logMinRatio = Math.log(minRatio);
        this.logMaxRatio = Math.log(maxRatio);
        this.lut = new float[3 * 256];
        for (int c = 0; c < 3; c++) {
            if (!(std[c] > 0)) throw new IllegalArgumentException("std[" + c + "] must be > 0, got " + std[c]);
            for (int v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255f - mean[c]) / std[c];
        }
    }

    public int size() {
        return size;
    }

    public int resizeSize() {
        return resizeSize;
    }

    /** Floats per sample: 3 * size * size. */
    public int sampleSize() {
        return 3 * size * size;
    }

    /** Bytes of the uint8 scratch buffer {@link #train} and {@link #eval} need: 3 * size * size. */
    public int scratchSize() {
        return 3 * size * size;
    }

    /**
     * torchvision's {@code RandomResizedCrop.get_params}: up to 10 tries of area {@code H*W*U(scale)} and
     * aspect ratio {@code exp(U(log ratio))}, {@code w = round(sqrt(area*ratio))}, {@code h = round(sqrt(area/ratio))}
     * (Python's round: half to even), accepted if it fits, placed uniformly; otherwise the centre crop of the whole
     * image with the ratio clamped to the range.
     */
    public Box randomResizedCrop(int height, int width, Rng rng) {
        double area = (double) height * width;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            double target = area * (minScale + (maxScale - minScale) * rng.nextDouble());
            double ratio = Math.exp(logMinRatio + (logMaxRatio - logMinRatio) * rng.nextDouble());
            int w = (int) Math.rint(Math.sqrt(target * ratio));
            int h = (int) Math.rint(Math.sqrt(target / ratio));
            if (0 < w && w <= width && 0 < h && h <= height) {
                int top = rng.nextInt(height - h + 1);
                int left = rng.nextInt(width - w + 1);
                return new Box(top, left, h, w);
            }
        }
        double inRatio = (double) width / height;
        int w, h;
        if (inRatio < minRatio) {
            w = width;
            h = (int) Math.rint(w / minRatio);
        } else if (inRatio > maxRatio) {
            h = height;
            w = (int) Math.rint(h * maxRatio);
        } else {
            w = width;
            h = height;
        }
        return new Box((height - h) / 2, (width - w) / 2, h, w);
    }

    /**
     * torchvision's {@code Resize(s)} output size for an int {@code s}: the shorter side becomes {@code s}, the longer
     * {@code int(s * long / short)}. Returns {width, height}.
     */
    public static int[] resizeShorter(int width, int height, int s) {
        if (width <= height) return new int[] {s, (int) ((double) s * height / width)};
        return new int[] {(int) ((double) s * width / height), s};
    }

    /** torchvision's {@code CenterCrop} offsets: {@code int(round((H - h) / 2.0))} (half to even), likewise for the width. */
    public static Box centerCrop(int height, int width, int cropHeight, int cropWidth) {
        return new Box((int) Math.rint((height - cropHeight) / 2.0), (int) Math.rint((width - cropWidth) / 2.0),
                cropHeight, cropWidth);
    }

    /** The training transform of dataset sample {@code id} in {@code epoch}: draws from {@code Rng.derive(seed, Rng.AUGMENT, epoch, id)}. */
    public void train(RgbImage img, long seed, int epoch, int id, float[] x, int xOff, BilinearResize resize, byte[] scratch) {
        train(img, Rng.derive(seed, Rng.AUGMENT, epoch, id), x, xOff, resize, scratch);
    }

    /** The training transform with the given draws: random resized crop, resize, flip, normalize. */
    public void train(RgbImage img, Rng rng, float[] x, int xOff, BilinearResize resize, byte[] scratch) {
        Box b = randomResizedCrop(img.height(), img.width(), rng);
        boolean flip = rng.nextFloat() < 0.5f;
        crop(img, b, flip, x, xOff, resize, scratch);
    }

    /** Crop {@code b}, resize to size x size, flip if asked, normalize: the training transform after its draws. */
    public void crop(RgbImage img, Box b, boolean flip, float[] x, int xOff, BilinearResize resize, byte[] scratch) {
        resize.resize(img, b.left(), b.top(), b.width(), b.height(), size, size, 0, 0, size, size, scratch);
        normalize(scratch, flip, x, xOff);
    }

    /** The evaluation transform: shorter side to resizeSize, centre size x size crop, normalize. */
    public void eval(RgbImage img, float[] x, int xOff, BilinearResize resize, byte[] scratch) {
        int[] wh = resizeShorter(img.width(), img.height(), resizeSize);
        Box c = centerCrop(wh[1], wh[0], size, size);
        resize.resize(img, 0, 0, img.width(), img.height(), wh[0], wh[1], c.left(), c.top(), size, size, scratch);
        normalize(scratch, false, x, xOff);
    }

    /**
     * ToTensor + Normalize of a size x size interleaved-RGB image ({@code hwc[(r*size + col)*3 + c]}) into CHW floats;
     * with {@code flip}, output column {@code col} shows input column {@code size-1-col}.
     */
    public void normalize(byte[] hwc, boolean flip, float[] x, int xOff) {
        int s = size, plane = s * s;
        for (int r = 0; r < s; r++) {
            int in = r * s * 3;
            int out = xOff + r * s;
            for (int col = 0; col < s; col++, in += 3) {
                int o = out + (flip ? s - 1 - col : col);
                x[o] = lut[hwc[in] & 0xFF];
                x[o + plane] = lut[256 + (hwc[in + 1] & 0xFF)];
                x[o + 2 * plane] = lut[512 + (hwc[in + 2] & 0xFF)];
            }
        }
    }
}
