#!/usr/bin/python3
"""PyTorch CPU training throughput of the CNN baselines, for comparison with `addernet bench-step` and the trainer.

Usage: /usr/bin/python3 scripts/bench-torch-train.py [--model resnet20|resnet18|resnet50] [--batch N] [--size S]
                                                    [--threads T] [--steps K] [--warmup W]

Whole training steps on random data (forward, cross-entropy, backward, SGD with momentum 0.9 and weight decay),
as `bench-step` times ours: `resnet20` is the CIFAR ResNet-20 CNN of scripts/model-reference.py (the official
AdderNet resnet20.py with ordinary convolutions, 32x32 input), `resnet18`/`resnet50` are torchvision's (224x224).
After W warm-up steps it times K steps and prints one JSON line: per-step seconds, the median images/s and the
min-max spread over the K steps.
"""
import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("bench-torch-train: no torch in " + sys.executable + "; Debian's python3-torch is for /usr/bin/python3")


def model_for(name):
    if name == "resnet20":
        here = os.path.dirname(os.path.abspath(__file__))
        spec = importlib.util.spec_from_file_location("model_reference", os.path.join(here, "model-reference.py"))
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
        return ref.CifarResNet(3, 10, adder=False), 32, 10
    import torchvision
    return getattr(torchvision.models, name)(), 224, 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--batch", type=int, default=0, help="default: 256 for resnet20, 32 otherwise")
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    model, size, classes = model_for(a.model)
    size = a.size or size
    batch = a.batch or (256 if a.model == "resnet20" else 32)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, classes, (batch,))
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x).flatten(1), y)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    ips = [batch / t for t in times]
    print(json.dumps({"impl": "torch-" + torch.__version__, "model": a.model + "_cnn", "batch": batch, "size": size,
                      "threads": a.threads, "step_s": [round(t, 4) for t in times],
                      "images_per_s": round(statistics.median(ips), 2),
                      "spread": [round(min(ips), 2), round(max(ips), 2)]}), flush=True)


if __name__ == "__main__":
    main()
