#!/usr/bin/python3
"""Writes the JPEG-pipeline test fixtures into src/test/resources/jpeg/ (committed; CI never runs this).

Run with the Debian interpreter, which has Pillow 9.4 (python3-pil) and torch: /usr/bin/python3 scripts/make-jpeg-fixtures.py

Every reference output is computed here, by PIL and torch, independently of the Java code:
  * decoded pixels: img.convert('RGB') of each fixture image, raw HWC uint8 ("<name>.rgb");
  * PIL BILINEAR resizes of PIL-decoded pixels: Image.resize(size, BILINEAR, box=...) and
    crop(box).resize(size, BILINEAR) (torchvision's RandomResizedCrop does the latter), raw HWC uint8;
  * torchvision's ImageNet transforms written out with PIL (torchvision itself is not installed; the few lines
    below follow torchvision.transforms.functional): eval = Resize(r) + CenterCrop(s), train = crop box +
    resize + optional horizontal flip, each as uint8 HWC and as ToTensor+Normalize float32 CHW little-endian
    ("<name>.f32") computed by torch.

manifest.txt lists the cases, one per line, whitespace-separated (format in its header). Output is
deterministic: same files on every run.
"""
import os
import struct
import sys

import numpy as np
import torch
from PIL import Image, ImageCms

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources", "jpeg")
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def scene(w, h, seed):
    """A smooth colour scene with a disc and some noise: JPEG-friendly, not constant."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 40 + 180 * xx / max(w - 1, 1)
    g = 30 + 200 * yy / max(h - 1, 1)
    b = 128 + 100 * np.sin((xx + 2 * yy) / max(w, h) * 6.0)
    disc = (xx - 0.6 * w) ** 2 + (yy - 0.4 * h) ** 2 < (0.25 * min(w, h)) ** 2
    r = np.where(disc, 230, r)
    g = np.where(disc, 60, g)
    b = np.where(disc, 40, b)
    a = np.stack([r, g, b], -1) + rng.normal(0, 6, (h, w, 3))
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def write_rgb(name, img):
    a = np.asarray(img.convert("RGB"), dtype=np.uint8)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(a.tobytes())
    return a


def write_f32(name, hwc):
    t = torch.from_numpy(hwc.copy()).permute(2, 0, 1).contiguous().float().div(255)  # ToTensor
    t = (t - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)  # Normalize
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(t.numpy().astype("<f4").tobytes())


def tv_resize_shorter(img, size):
    # torchvision.transforms.functional._compute_resized_output_size for an int size, then PIL resize.
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return img.resize((new_w, new_h), Image.BILINEAR)


def tv_center_crop(img, size):
    w, h = img.size
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    lines = [
        "# JPEG pipeline fixtures, written by scripts/make-jpeg-fixtures.py (PIL %s, torch %s)." % (Image.__version__, torch.__version__),
        "# Raw references: .rgb = HWC uint8 RGB; .f32 = CHW float32 little-endian after ToTensor+Normalize(ImageNet).",
        "# decode FILE WIDTH HEIGHT PIL_MODE EXACT(1=lossless) REF_RGB           PIL's img.convert('RGB')",
        "# error FILE                                                           PIL cannot load it",
        "# resize-box SRC_RGB SRC_W SRC_H X0 Y0 X1 Y1 OUT_W OUT_H REF_RGB        src.resize((OUT_W,OUT_H), BILINEAR, box=(X0,Y0,X1,Y1))",
        "# crop-resize SRC_RGB SRC_W SRC_H LEFT TOP RIGHT BOTTOM OUT_W OUT_H REF_RGB  src.crop(box).resize((OUT_W,OUT_H), BILINEAR)",
        "# eval SRC_RGB SRC_W SRC_H SIZE RESIZE REF_RGB REF_F32                  Resize(RESIZE), CenterCrop(SIZE)",
        "# train SRC_RGB SRC_W SRC_H TOP LEFT H W FLIP SIZE REF_RGB REF_F32       crop(TOP,LEFT,H,W), resize SIZE, flip if FLIP=1",
    ]

    def decode_case(fname, exact):
        im = Image.open(os.path.join(OUT, fname))
        im.load()
        ref = fname.rsplit(".", 1)[0] + ".rgb"
        a = write_rgb(ref, im)
        lines.append("decode %s %d %d %s %d %s" % (fname, im.size[0], im.size[1], im.mode, exact, ref))
        return a

    base = Image.fromarray(scene(64, 48, 1), "RGB")
    base.save(os.path.join(OUT, "rgb_64x48.jpg"), quality=90)  # baseline, 4:2:0
    decode_case("rgb_64x48.jpg", 0)
    base.save(os.path.join(OUT, "progressive_64x48.jpg"), quality=90, progressive=True)
    decode_case("progressive_64x48.jpg", 0)
    base.convert("L").save(os.path.join(OUT, "gray_64x48.jpg"), quality=90)
    decode_case("gray_64x48.jpg", 0)
    cmyk = Image.fromarray(scene(40, 30, 2), "RGB").convert("CMYK")
    cmyk.save(os.path.join(OUT, "cmyk_40x30.jpg"), quality=90)  # libjpeg writes an Adobe APP14 marker, transform 0
    decode_case("cmyk_40x30.jpg", 0)
    # YCCK: the same file with the Adobe transform byte set to 2, so decoders run the YCC->RGB step on the first
    # three components (libjpeg never writes YCCK for CMYK input by default). The colours are odd; only the
    # decoding matters.
    raw = bytearray(open(os.path.join(OUT, "cmyk_40x30.jpg"), "rb").read())
    i = raw.find(b"Adobe")
    assert i > 0 and raw[i + 11] == 0, "no Adobe APP14 marker"
    raw[i + 11] = 2
    with open(os.path.join(OUT, "ycck_40x30.jpg"), "wb") as f:
        f.write(raw)
    decode_case("ycck_40x30.jpg", 0)
    # An embedded ICC profile: PIL ignores it (and so must we; the JDK's reader would convert to sRGB). The profile is
    # LittleCMS's sRGB with the red and blue primaries swapped, so that converting would show.
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    tags = {}
    for t in range(struct.unpack(">I", icc[128:132])[0]):
        sig, off, size = struct.unpack(">4sII", icc[132 + 12 * t:144 + 12 * t])
        tags[sig] = (t, off, size)
    (ir, offr, sr), (ib, offb, sb) = tags[b"rXYZ"], tags[b"bXYZ"]
    struct.pack_into(">4sII", icc, 132 + 12 * ir, b"rXYZ", offb, sb)
    struct.pack_into(">4sII", icc, 132 + 12 * ib, b"bXYZ", offr, sr)
    base.save(os.path.join(OUT, "icc_64x48.jpg"), quality=90, icc_profile=bytes(icc))
    decode_case("icc_64x48.jpg", 0)
    Image.fromarray(scene(37, 23, 3), "RGB").save(os.path.join(OUT, "odd_37x23.jpg"), quality=95, subsampling=0)
    decode_case("odd_37x23.jpg", 0)
    Image.fromarray(scene(1, 1, 4), "RGB").save(os.path.join(OUT, "one_1x1.jpg"), quality=90)
    decode_case("one_1x1.jpg", 0)
    Image.fromarray(scene(3, 100, 5), "RGB").save(os.path.join(OUT, "thin_3x100.jpg"), quality=90)
    decode_case("thin_3x100.jpg", 0)
    Image.fromarray(scene(99, 17, 6), "RGB").save(os.path.join(OUT, "wide_99x17.jpg"), quality=90)
    decode_case("wide_99x17.jpg", 0)
    # ImageNet has a PNG named .JPEG: the reader must be chosen from the content.
    Image.fromarray(scene(30, 20, 7), "RGB").save(os.path.join(OUT, "png_named.JPEG"), format="PNG")
    decode_case("png_named.JPEG", 1)
    rgba = Image.fromarray(scene(30, 20, 8), "RGB").convert("RGBA")
    alpha = Image.fromarray((np.arange(600).reshape(20, 30) % 256).astype(np.uint8), "L")
    rgba.putalpha(alpha)
    rgba.save(os.path.join(OUT, "rgba_30x20.png"))
    decode_case("rgba_30x20.png", 1)
    Image.fromarray(scene(30, 20, 9), "RGB").quantize(16).save(os.path.join(OUT, "palette_30x20.png"))
    decode_case("palette_30x20.png", 1)
    la = Image.fromarray(scene(30, 20, 10), "RGB").convert("LA")
    la.save(os.path.join(OUT, "gray_alpha_30x20.png"))
    decode_case("gray_alpha_30x20.png", 1)

    whole = open(os.path.join(OUT, "rgb_64x48.jpg"), "rb").read()
    with open(os.path.join(OUT, "truncated.jpg"), "wb") as f:
        f.write(whole[: len(whole) * 6 // 10])
    try:
        Image.open(os.path.join(OUT, "truncated.jpg")).load()
        sys.exit("PIL loaded the truncated fixture")
    except OSError:
        lines.append("error truncated.jpg")

    # Resize references on PIL-decoded pixels. big_256x192.png is lossless, so its .rgb is its content.
    big = Image.fromarray(scene(256, 192, 11), "RGB")
    big.save(os.path.join(OUT, "big_256x192.png"), optimize=True)
    decode_case("big_256x192.png", 1)
    srcs = {
        "rgb_64x48.rgb": Image.open(os.path.join(OUT, "rgb_64x48.jpg")).convert("RGB"),
        "big_256x192.rgb": big,
        "thin_3x100.rgb": Image.open(os.path.join(OUT, "thin_3x100.jpg")).convert("RGB"),
    }
    n = 0
    for src, box, size in [
        ("rgb_64x48.rgb", (0, 0, 64, 48), (20, 15)),
        ("rgb_64x48.rgb", (5.5, 3.25, 50.75, 40), (17, 13)),
        ("rgb_64x48.rgb", (10, 8, 42, 40), (16, 16)),
        ("rgb_64x48.rgb", (10, 8, 42, 40), (32, 32)),  # integer box of the output size: PIL crops
        ("rgb_64x48.rgb", (0, 0, 64, 48), (100, 75)),
        ("big_256x192.rgb", (0, 0, 256, 192), (16, 12)),
        ("big_256x192.rgb", (17.5, 3, 240, 189.75), (23, 31)),
    ]:
        ref = "resize%d.rgb" % n
        n += 1
        img = srcs[src]
        write_rgb(ref, img.resize(size, Image.BILINEAR, box=box))
        coords = " ".join(repr(float(v)) for v in box)
        lines.append("resize-box %s %d %d %s %d %d %s" % (src, img.size[0], img.size[1], coords, size[0], size[1], ref))
    for src, box, size in [
        ("rgb_64x48.rgb", (7, 5, 48, 35), (24, 24)),
        ("rgb_64x48.rgb", (3, 2, 13, 9), (32, 32)),
        ("rgb_64x48.rgb", (0, 0, 64, 48), (24, 24)),
        ("big_256x192.rgb", (30, 11, 250, 170), (20, 20)),
        ("thin_3x100.rgb", (0, 10, 3, 90), (8, 8)),
    ]:
        ref = "resize%d.rgb" % n
        n += 1
        img = srcs[src]
        write_rgb(ref, img.crop(box).resize(size, Image.BILINEAR))
        lines.append("crop-resize %s %d %d %d %d %d %d %d %d %s" % ((src, img.size[0], img.size[1]) + box + size + (ref,)))
    t = 0
    for src, size, resize in [("rgb_64x48.rgb", 24, 28), ("big_256x192.rgb", 32, 37), ("thin_3x100.rgb", 8, 9)]:
        img = srcs[src]
        out = tv_center_crop(tv_resize_shorter(img, resize), size)
        a = write_rgb("t%d.rgb" % t, out)
        write_f32("t%d.f32" % t, a)
        lines.append("eval %s %d %d %d %d t%d.rgb t%d.f32" % (src, img.size[0], img.size[1], size, resize, t, t))
        t += 1
    for src, top, left, h, w, flip, size in [("rgb_64x48.rgb", 3, 9, 40, 30, 1, 24),
                                            ("big_256x192.rgb", 20, 31, 150, 201, 0, 40),
                                            ("rgb_64x48.rgb", 30, 50, 5, 7, 1, 16)]:
        img = srcs[src]
        out = img.crop((left, top, left + w, top + h)).resize((size, size), Image.BILINEAR)
        if flip:
            out = out.transpose(Image.FLIP_LEFT_RIGHT)
        a = write_rgb("t%d.rgb" % t, out)
        write_f32("t%d.f32" % t, a)
        lines.append("train %s %d %d %d %d %d %d %d %d t%d.rgb t%d.f32" % (src, img.size[0], img.size[1], top, left, h, w,
                                                                          flip, size, t, t))
        t += 1
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %d files, %d bytes, to %s" % (len(os.listdir(OUT)), total, os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
