package org.addernet.data;

/**
 * A decoded 8-bit RGB image: {@code pixels} is interleaved HWC, pixel {@code (y, x)} channel {@code c} at
 * {@code pixels[(y * width + x) * 3 + c]}, unsigned (read as {@code & 0xFF}); what PIL's
 * {@code np.asarray(img.convert('RGB'))} holds. The array is shared, not copied.
 */
public record RgbImage(int width, int height, byte[] pixels) {
    public RgbImage {
        if (width < 1 || height < 1) throw new IllegalArgumentException("bad image size " + width + "x" + height);
        if (pixels.length != 3L * width * height) {
            throw new IllegalArgumentException(width + "x" + height + " RGB image needs " + 3L * width * height
                    + " bytes, got " + pixels.length);
        }
    }

    /** Channel {@code c} of pixel {@code (y, x)} as 0..255. */
    public int get(int y, int x, int c) {
        return pixels[(y * width + x) * 3 + c] & 0xFF;
    }
}
