#!/usr/bin/python3
"""PyTorch's eval-mode inference of the CNN twins, for comparison with `addernet bench-eval`.

Usage: scripts/bench-eval-torch.py [--model resnet20|resnet50] [--batch 1,64] [--threads 2] [--seconds 3]

The networks are those of scripts/model-reference.py with ordinary convolutions (the CNN twin: our ResNet-20, and
ResNet-50 with fc a 1x1 conv plus BN on the logits), model.eval() under torch.no_grad(), random float32 inputs.
Prints one JSON object per batch size, the fields of the Java bench with "impl":"torch". PyTorch has no adder layer.
"""
import argparse
import importlib.util
import json
import os
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("bench-eval-torch: no torch in " + sys.executable + "; Debian's python3-torch is for /usr/bin/python3")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet20", choices=["resnet20", "resnet50"])
    ap.add_argument("--batch", default="1,64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    spec = importlib.util.spec_from_file_location("model_reference", os.path.join(os.path.dirname(__file__), "model-reference.py"))
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    if a.model == "resnet20":
        net, shape = ref.CifarResNet(3, 10, False), (3, 32, 32)
    else:
        net, shape = ref.ImageNetResNet(ref.Bottleneck, [3, 4, 6, 3], 1000, False), (3, 224, 224)
    net.eval()
    g = torch.Generator().manual_seed(42)
    for batch in [int(b) for b in a.batch.split(",")]:
        x = torch.randn(batch, *shape, generator=g)
        with torch.no_grad():
            net(x)  # warm-up
            times = []
            start = time.perf_counter()
            while len(times) < 3 or time.perf_counter() - start < a.seconds:
                t0 = time.perf_counter()
                net(x)
                times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        med = times[len(times) // 2]
        print(json.dumps({"impl": "torch", "model": a.model, "variant": "cnn", "batch": batch, "threads": a.threads,
                          "torch": torch.__version__, "reps": len(times), "ms_per_batch": round(med, 3),
                          "images_per_s": round(batch * 1e3 / med, 2)}), flush=True)


if __name__ == "__main__":
    main()
