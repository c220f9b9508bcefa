#!/usr/bin/python3
"""PyTorch CPU conv2d on the shapes of `org.addernet.cli.Bench`, for comparison.

Usage: scripts/bench-torch.py [--threads N] [--reps R] [--warmup-ms M] [--nets resnet20,lenet5bn]

Prints one JSON object per line, the same fields as the Java bench plus "impl":"torch": per shape the median
wall time of conv_forward, conv_input_grad, conv_filter_grad (aten::convolution_backward with one output
enabled) and conv_fwd_bwd (forward + backward for input and weight), with G-ops/s counted as N*O*Ho*Wo*C*k*k
multiply-adds per pass (3 passes for fwd_bwd). PyTorch has no adder layer, so there is no adder row.
"""
import argparse
import json
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("bench-torch: no torch in " + sys.executable + "; Debian's python3-torch is for /usr/bin/python3")

SHAPES = [
    ("resnet20", (64, 16, 32, 32, 16, 3, 1, 1)),
    ("resnet20", (64, 32, 16, 16, 32, 3, 1, 1)),
    ("resnet20", (64, 64, 8, 8, 64, 3, 1, 1)),
    ("lenet5bn", (256, 1, 28, 28, 6, 5, 1, 2)),
    ("lenet5bn", (256, 6, 14, 14, 16, 5, 1, 0)),
    ("lenet5bn", (256, 16, 5, 5, 120, 5, 1, 0)),
    ("lenet5bn", (256, 120, 1, 1, 84, 1, 1, 0)),
    ("lenet5bn", (256, 84, 1, 1, 10, 1, 1, 0)),
    ("resnet18", (32, 64, 56, 56, 64, 3, 1, 1)),
    ("resnet18", (32, 128, 28, 28, 128, 3, 1, 1)),
    ("resnet18", (32, 256, 14, 14, 256, 3, 1, 1)),
    ("resnet18", (32, 512, 7, 7, 512, 3, 1, 1)),
]


def median_ms(fn, reps, warmup_ms):
    start = time.perf_counter()
    n = 0
    while n < 3 or (time.perf_counter() - start) * 1e3 < warmup_ms:
        fn()
        n += 1
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[reps // 2] if reps % 2 else (times[reps // 2 - 1] + times[reps // 2]) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=11)
    ap.add_argument("--warmup-ms", type=float, default=300)
    ap.add_argument("--nets", default="resnet20,lenet5bn")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    nets = a.nets.split(",")
    kernels = "torch-" + torch.__version__
    print(f"bench-torch: torch {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)
    have_bwd = hasattr(torch.ops.aten, "convolution_backward")
    # oneDNN picks and JIT-compiles its primitives on first use: without this the first shape of each net timed
    # 20-50 ms in every run. Warm every shape up (~2 s in all) before timing, as the Java bench does.
    start = time.perf_counter()
    while time.perf_counter() - start < 2.0:
        for net, (n, c, h, w, o, k, s, p) in SHAPES:
            if net in nets:
                xg = torch.randn(n, c, h, w, requires_grad=True)
                F.conv2d(xg, torch.randn(o, c, k, k, requires_grad=True), stride=s, padding=p).sum().backward()
    for net, (n, c, h, w, o, k, s, p) in SHAPES:
        if net not in nets:
            continue
        ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        ops = n * o * ho * wo * c * k * k
        x = torch.randn(n, c, h, w)
        wt = torch.randn(o, c, k, k) * (2.0 / (c * k * k)) ** 0.5
        dy = torch.randn(n, o, ho, wo)
        xg = x.clone().requires_grad_(True)
        wg = wt.clone().requires_grad_(True)

        def forward():
            with torch.no_grad():
                F.conv2d(x, wt, stride=s, padding=p)

        def backward_part(mask):
            def run():
                torch.ops.aten.convolution_backward(dy, x, wt, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask)
            return run

        def fwd_bwd():
            xg.grad = None
            wg.grad = None
            y = F.conv2d(xg, wg, stride=s, padding=p)
            y.backward(dy)

        ops_list = [("conv_forward", 1, forward)]
        if have_bwd:
            ops_list += [("conv_input_grad", 1, backward_part([True, False, False])),
                         ("conv_filter_grad", 1, backward_part([False, True, False]))]
        ops_list.append(("conv_fwd_bwd", 3, fwd_bwd))
        shape = f"{n},{c},{h},{w},{o},{k},{s},{p}"
        for name, passes, fn in ops_list:
            ms = median_ms(fn, a.reps, a.warmup_ms)
            print(json.dumps({"net": net, "shape": shape, "op": name, "impl": "torch", "kernels": kernels,
                              "threads": a.threads, "ms": round(ms, 4),
                              "gops": round(passes * ops / (ms * 1e6), 3)}), flush=True)


if __name__ == "__main__":
    main()
