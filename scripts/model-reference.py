#!/usr/bin/python3
"""Independent reference for the model zoo's shapes and counts, written with plain torch (no torchvision).

Usage: /usr/bin/python3 scripts/model-reference.py [OUT]   (default src/test/resources/models/reference.json)

Defines ResNet-18/34/50 as torchvision does (v1.5: the bottleneck strides in its 3x3 conv) with the AdderNet
changes of DESIGN.md §2 (fc is a 1x1 conv with bias, followed by BatchNorm `bn2` on the logits), and ResNet-20 as
the official AdderNet resnet20.py, each as the adder network and as its CNN twin. An adder layer is a module
holding its filters as parameter `adder` and computing a convolution in their place: only names, shapes and
counts matter here. For ResNet-18/34/50 (1000 classes, 3x224x224) and ResNet-20 (10 classes, 3x32x32) it writes
every parameter name and shape in registration order, every buffer name, the parameter count, and, from forward
hooks on one image, every conv/adder/BatchNorm/pooling call in call order with its output shape (C, H, W) and its
multiply-accumulates (conv) or |x - w| accumulates (adder): out.numel() * in_channels * kh * kw per image.
org.addernet.model.ModelsReferenceTest compares the Java models against this file exactly.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Adder2d(nn.Module):
    """Stand-in for the official adder2d: same parameter name and shape, a convolution for the output shape."""

    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.in_channels, self.kernel_size, self.stride, self.padding = cin, (k, k), stride, padding
        self.adder = nn.Parameter(torch.randn(cout, cin, k, k))

    def forward(self, x):
        return F.conv2d(x, self.adder, stride=self.stride, padding=self.padding)


def make_conv(adder):
    """The layer used inside blocks and shortcuts: adder2d in the adder network, Conv2d (no bias) in the CNN."""
    def conv(cin, cout, k, stride=1, padding=0):
        if adder:
            return Adder2d(cin, cout, k, stride, padding)
        return nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False)
    return conv


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, conv, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = conv(inplanes, planes, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv(planes, planes, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, conv, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = conv(inplanes, planes, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv(planes, planes, 3, stride, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv(planes, planes * 4, 1)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def make_layer(conv, block, inplanes, planes, blocks, stride):
    layers = []
    for i in range(blocks):
        s = stride if i == 0 else 1
        down = None
        if s != 1 or inplanes != planes * block.expansion:
            down = nn.Sequential(conv(inplanes, planes * block.expansion, 1, s), nn.BatchNorm2d(planes * block.expansion))
        layers.append(block(conv, inplanes, planes, s, down))
        inplanes = planes * block.expansion
    return nn.Sequential(*layers), inplanes


class ImageNetResNet(nn.Module):
    def __init__(self, block, blocks, classes, adder):
        super().__init__()
        conv = make_conv(adder)
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        self.layer1, inplanes = make_layer(conv, block, inplanes, 64, blocks[0], 1)
        self.layer2, inplanes = make_layer(conv, block, inplanes, 128, blocks[1], 2)
        self.layer3, inplanes = make_layer(conv, block, inplanes, 256, blocks[2], 2)
        self.layer4, inplanes = make_layer(conv, block, inplanes, 512, blocks[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(inplanes, classes, 1, bias=True)
        self.bn2 = nn.BatchNorm2d(classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.bn2(self.fc(self.avgpool(x)))


class CifarResNet(nn.Module):
    def __init__(self, n, classes, adder):
        super().__init__()
        conv = make_conv(adder)
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        inplanes = 16
        self.layer1, inplanes = make_layer(conv, BasicBlock, inplanes, 16, n, 1)
        self.layer2, inplanes = make_layer(conv, BasicBlock, inplanes, 32, n, 2)
        self.layer3, inplanes = make_layer(conv, BasicBlock, inplanes, 64, n, 2)
        self.avgpool = nn.AvgPool2d(8, stride=1)
        self.fc = nn.Conv2d(64, classes, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.bn2(self.fc(self.avgpool(x)))


KINDS = [(Adder2d, "adder"), (nn.Conv2d, "conv"), (nn.BatchNorm2d, "bn"), (nn.MaxPool2d, "maxpool"),
         (nn.AvgPool2d, "avgpool"), (nn.AdaptiveAvgPool2d, "avgpool")]


def describe(model, input_shape):
    calls = []

    def hook(name, kind):
        def f(module, inputs, out):
            macs = 0
            if kind in ("conv", "adder"):
                kh, kw = module.kernel_size
                macs = out[0].numel() * module.in_channels * kh * kw
            calls.append({"name": name, "type": kind, "out": list(out.shape[1:]), "macs": macs})
        return f

    handles = []
    for name, m in model.named_modules():
        for cls, kind in KINDS:
            if type(m) is cls:
                handles.append(m.register_forward_hook(hook(name, kind)))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    for h in handles:
        h.remove()
    return {
        "params": [[n, list(p.shape)] for n, p in model.named_parameters()],
        "buffers": [n for n, _ in model.named_buffers()],
        "total_params": sum(p.numel() for p in model.parameters()),
        "layers": calls,
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src", "test",
                                                              "resources", "models", "reference.json")
    specs = {
        "resnet18": (lambda a: ImageNetResNet(BasicBlock, [2, 2, 2, 2], 1000, a), 1000, (3, 224, 224)),
        "resnet34": (lambda a: ImageNetResNet(BasicBlock, [3, 4, 6, 3], 1000, a), 1000, (3, 224, 224)),
        "resnet50": (lambda a: ImageNetResNet(Bottleneck, [3, 4, 6, 3], 1000, a), 1000, (3, 224, 224)),
        "resnet20": (lambda a: CifarResNet(3, 10, a), 10, (3, 32, 32)),
    }
    models = {}
    for arch, (make, classes, shape) in specs.items():
        variants = {v: describe(make(v == "adder"), shape) for v in ("adder", "cnn")}
        models[arch] = {"classes": classes, "input": list(shape), "variants": variants}
        cnn = variants["cnn"]
        macs = sum(c["macs"] for c in cnn["layers"])
        print(f"{arch}: {cnn['total_params']} parameters, {macs} multiply-accumulates per image", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(dumps({"generator": "scripts/model-reference.py", "torch": torch.__version__, "models": models}, ""))
        f.write("\n")


def dumps(v, indent):
    """JSON with one line per list element (a parameter, a buffer, a layer), so that the fixture diffs well."""
    inner = indent + " "
    if isinstance(v, dict):
        return "{\n" + ",\n".join(inner + json.dumps(k) + ": " + dumps(x, inner) for k, x in v.items()) + "\n" + indent + "}"
    if isinstance(v, list) and v and isinstance(v[0], (list, dict, str)):
        return "[\n" + ",\n".join(inner + json.dumps(x) for x in v) + "\n" + indent + "]"
    return json.dumps(v)


if __name__ == "__main__":
    main()
