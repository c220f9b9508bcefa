#!/usr/bin/python3
"""Fixtures for org.addernet.interop.InteropTest, computed by the official AdderNet code with Debian's python3-torch.

Usage: /usr/bin/python3 scripts/make-interop-fixtures.py [OFFICIAL_DIR] [OUT]
       (defaults ../shared/official and src/test/resources/interop; run from the repository root)

Writes, every array raw little-endian:
  ResNet20-AdderNet.pth, LICENSE-AdderNet.txt  the released model (legacy torch.save) and its BSD notice, copied
  resnet20-inputs.f32        16 x 3 x 32 x 32 float32: uniform [0,1) pixels (seed 0), normalized with the official
                             CIFAR mean/std
  resnet20-logits.f64        16 x 10: the official resnet20 with the released weights, eval mode, model.double() on
                             those float32 inputs (float64: BN on the logits amplifies float32 rounding)
  lenet-zip.pt, lenet-legacy.pt, lenet.safetensors
                             one LeNet-5-BN adder network (all five layers adder2d, BN after each, as our lenet5bn;
                             random weights and BN statistics, seed 1) in the zip and legacy torch.save formats and
                             as safetensors (written here by hand: Debian has no safetensors module)
  lenet-inputs.f32           16 x 1 x 28 x 28 float32 (seed 2), lenet-logits.f64: its float64 eval logits
  predict-images/...         6 PNG images, 32 x 32 RGB (seed 3; smooth gradients plus noise), in nested folders, and
  predict-logits.f64         6 x 10: the released ResNet-20's float64 eval logits on them in path order, each image
                             through ToTensor and the official Normalize (float32), as the official test.py does
  exports.txt                for each model, the SHA-256 of `addernet export` of its import (zip .pt; and
                             `--format legacy`, lines "<model>-legacy") after PyTorch loaded that export with
                             torch.load(weights_only=True) into the official model (strict) and found every tensor
                             equal to the original; the official ResNet-50 (random weights) is checked the same way,
                             without a file
                             For the legacy exports of ResNet-20 and LeNet the script also runs the loaded model:
                             its float64 logits on resnet20-inputs.f32 / lenet-inputs.f32 must be within the issue's
                             bound (relative L2 1e-4) of resnet20-logits.f64 / lenet-logits.f64, and are in fact
                             equal to them bit for bit (the weights are), so no further logits file is written; the
                             Java test compares our float32 logits of the same checkpoint with those files
PyTorch 1.13's torch.load(weights_only=True) does read legacy files (its restricted unpickler serves both formats):
the script checks that it loads our legacy exports and that it refuses a legacy file whose pickle names os.system.
The Java tests need none of this script: they read the files. The legacy file's storage keys are memory addresses,
so it differs from run to run (its tensors do not).
"""
import collections
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torchvision.transforms as T
from PIL import Image

N = 16
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


def lenet(adder):
    """LeNet-5-BN as org.addernet.model.Models.lenet5bn: every layer an adder layer, BN after each, BN on the logits."""
    a = adder.adder2d
    return nn.Sequential(collections.OrderedDict([
        ("conv1", a(1, 6, 5, padding=2)), ("bn1", nn.BatchNorm2d(6)), ("r1", nn.ReLU()), ("p1", nn.MaxPool2d(2)),
        ("conv2", a(6, 16, 5)), ("bn2", nn.BatchNorm2d(16)), ("r2", nn.ReLU()), ("p2", nn.MaxPool2d(2)),
        ("fc1", a(16, 120, 5)), ("bn3", nn.BatchNorm2d(120)), ("r3", nn.ReLU()),
        ("fc2", a(120, 84, 1)), ("bn4", nn.BatchNorm2d(84)), ("r4", nn.ReLU()),
        ("fc3", a(84, 10, 1)), ("bn5", nn.BatchNorm2d(10)), ("flat", nn.Flatten())]))


def logits64(model, x32):
    model = model.double().eval()
    with torch.no_grad():
        out = model(x32.double())
    model.float()
    return out.reshape(out.shape[0], -1)


def write_safetensors(path, sd):
    header, blobs, at = {}, [], 0
    names = {torch.float32: "F32", torch.int64: "I64"}
    for k, v in sd.items():
        b = v.contiguous().numpy().tobytes()
        header[k] = {"dtype": names[v.dtype], "shape": list(v.shape), "data_offsets": [at, at + len(b)]}
        at += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def rel_l2(a, b):
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


def check_export(root, out, name, src_file, arch, model, reference, fmt="zip", inputs=None, want=None):
    """Imports src_file, exports it with our CLI (--format fmt), loads the export in PyTorch (weights_only=True,
    strict); returns the export's SHA-256 and, given inputs, the float64 eval logits of the loaded model, which must
    be within the issue's bound of want (the original model's)."""
    cli = os.path.join(root, "scripts", "addernet")
    with tempfile.TemporaryDirectory() as d:
        ckpt, pt = os.path.join(d, "m.ckpt"), os.path.join(d, "m.pt")
        env = dict(os.environ, ADDERNET_HEAP="1g")
        subprocess.run([cli, "import", "--from", src_file, "--model", arch, "--out", ckpt], check=True, env=env)
        subprocess.run([cli, "export", "--checkpoint", ckpt, "--to", pt, "--format", fmt], check=True, env=env)
        assert zipfile.is_zipfile(pt) == (fmt == "zip"), f"{name}: --format {fmt} wrote the wrong container"
        sd = torch.load(pt, weights_only=True)
        model.load_state_dict(sd, strict=True)
        for k, v in reference.items():
            k = k[len("module."):] if k.startswith("module.") else k
            assert torch.equal(sd[k], v.cpu()), f"{name}: {k} changed in the round trip"
        logits = None
        if inputs is not None:
            logits = logits64(model, inputs)
            err = rel_l2(logits, want)
            assert err <= 1e-4, f"{name}: logits of the {fmt} export are {err} off"
            assert torch.equal(logits, want), f"{name}: the {fmt} export's weights give other float64 logits"
        with open(pt, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest(), logits


def check_weights_only_refuses_legacy_globals():
    """torch.load(weights_only=True) on a legacy file must refuse a foreign global, not run it (checked, not assumed)."""
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo weights_only ran os.system",))
    buf = io.BytesIO()
    torch.save(collections.OrderedDict(a=torch.zeros(2), e=Evil()), buf, _use_new_zipfile_serialization=False)
    buf.seek(0)
    try:
        torch.load(buf, weights_only=True)
    except Exception as e:  # pickle.UnpicklingError naming the global
        assert "system" in str(e), e
        return
    raise AssertionError("torch.load(weights_only=True) loaded a legacy pickle naming os.system")


def main():
    official = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "../shared/official")
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "src/test/resources/interop")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, official)
    import adder
    import resnet20
    torch.set_num_threads(2)
    os.makedirs(out, exist_ok=True)

    released = os.path.join(official, "ResNet20-AdderNet.pth")
    shutil.copyfile(released, os.path.join(out, "ResNet20-AdderNet.pth"))
    shutil.copyfile(os.path.join(official, "License.txt"), os.path.join(out, "LICENSE-AdderNet.txt"))
    sd = torch.load(released, map_location="cpu")
    net = resnet20.resnet20()
    net.load_state_dict({k[len("module."):]: v for k, v in sd.items()})
    g = torch.Generator().manual_seed(0)
    u = torch.rand(N, 3, 32, 32, generator=g)
    x = ((u - torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)) / torch.tensor(CIFAR_STD).view(1, 3, 1, 1)).float()
    x.numpy().astype("<f4").tofile(os.path.join(out, "resnet20-inputs.f32"))
    logits64(net, x).numpy().astype("<f8").tofile(os.path.join(out, "resnet20-logits.f64"))

    torch.manual_seed(1)
    le = lenet(adder)
    for m in le.modules():
        if isinstance(m, nn.BatchNorm2d):  # BN that is not the identity, so that its buffers matter
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
            m.running_mean.uniform_(-40, -10)
            m.running_var.uniform_(20, 200)
            m.num_batches_tracked.fill_(1234)
    le_sd = le.state_dict()
    torch.save(le_sd, os.path.join(out, "lenet-zip.pt"))
    torch.save(le_sd, os.path.join(out, "lenet-legacy.pt"), _use_new_zipfile_serialization=False)
    write_safetensors(os.path.join(out, "lenet.safetensors"), le_sd)
    g = torch.Generator().manual_seed(2)
    xl = ((torch.rand(N, 1, 28, 28, generator=g) - 0.1307) / 0.3081).float()
    xl.numpy().astype("<f4").tofile(os.path.join(out, "lenet-inputs.f32"))
    logits64(le, xl).numpy().astype("<f8").tofile(os.path.join(out, "lenet-logits.f64"))

    images = os.path.join(out, "predict-images")
    shutil.rmtree(images, ignore_errors=True)
    g = torch.Generator().manual_seed(3)
    paths = ["0.png", "a/1.png", "a/b/2.png", "a/b/3.png", "c/4.png", "c/d/e/5.png"]  # in path order
    xs = []
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    for i, rel in enumerate(paths):
        f = torch.rand(3, 3, generator=g)
        base = 255 * (f[:, 0:1, None] * yy / 31 + f[:, 1:2, None] * xx / 31) / 2 + 64 * f[:, 2:3, None]
        img = (base + 40 * torch.rand(3, 32, 32, generator=g)).clamp(0, 255).round().to(torch.uint8)
        os.makedirs(os.path.dirname(os.path.join(images, rel)), exist_ok=True)
        Image.fromarray(img.permute(1, 2, 0).numpy(), "RGB").save(os.path.join(images, rel))
        back = torch.from_numpy(np.array(Image.open(os.path.join(images, rel)))).permute(2, 0, 1)
        assert torch.equal(back, img)
        xs.append(T.Normalize(CIFAR_MEAN, CIFAR_STD)(T.ToTensor()(Image.open(os.path.join(images, rel)))))
    logits64(net, torch.stack(xs)).numpy().astype("<f8").tofile(os.path.join(out, "predict-logits.f64"))

    check_weights_only_refuses_legacy_globals()
    want20, wantle = logits64(net, x), logits64(le, xl)
    lines = [
        "resnet20 " + check_export(root, out, "resnet20", released, "resnet20", resnet20.resnet20(), sd)[0],
        "lenet5bn " + check_export(root, out, "lenet5bn", os.path.join(out, "lenet-zip.pt"), "lenet5bn", lenet(adder), le_sd)[0],
    ]
    for name, src, arch, model, ref, inputs, want in [
            ("resnet20", released, "resnet20", resnet20.resnet20(), sd, x, want20),
            ("lenet", os.path.join(out, "lenet-zip.pt"), "lenet5bn", lenet(adder), le_sd, xl, wantle)]:
        lines.append(arch + "-legacy " + check_export(root, out, name, src, arch, model, ref, "legacy", inputs, want)[0])
    # ResNet-50 (official resnet50.py, random weights): checked the same way, nothing written (100 MB).
    import resnet50
    with tempfile.TemporaryDirectory() as d:
        r50 = resnet50.resnet50()
        torch.save(r50.state_dict(), os.path.join(d, "r50.pt"))
        for fmt in ("zip", "legacy"):
            check_export(root, out, "resnet50", os.path.join(d, "r50.pt"), "resnet50", resnet50.resnet50(), r50.state_dict(), fmt)
    with open(os.path.join(out, "exports.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote fixtures to", out)


if __name__ == "__main__":
    main()
