#!/usr/bin/env python3
"""Projection of ImageNet training time on N nodes x C cores, from measured per-core and per-step costs.

Usage: scripts/project-imagenet.py --rate R50_IMAGES_PER_S_PER_CORE [--params 25557032] [--epochs 150]
           [--driver-fixed S] [--sharded-fixed S] [--link-gbps 10] [--nodes 4,8,16,32,64] [--cores 16,64]
           [--batches 256,4096] [--wire-bytes 4]

Per step of global batch B, W = N workers (one Spark task of C engine threads per node):

    t_step = B / (N * C * r)  +  t_fixed  +  t_net

* r: training images/s per core of the model (measured: `bench-step`, or bench-report's steps table, divided by
  the thread count). Assumes a node's C cores scale like this machine's two, and that a worker's share of the
  batch (B / N images) keeps its C threads busy (the engine splits every layer over samples and rows; with fewer
  images than threads the kernels split by output rows, at some loss).
* t_fixed: the measured per-step Spark cost that is not moving bytes between nodes (`bench-spark`: job launches,
  serialization, the owners' sums and update), for sync=driver and sync=sharded.
* t_net, sync=driver: the ordered tree sum has fan-in f = ceil(sqrt(N)) per level into one task and finally the
  driver: ~ 2 * f * S / bw, plus the weight broadcast ~ S / bw (BitTorrent-like), S = params * 4 bytes.
* t_net, sync=sharded: reduce-scatter then all-gather, each node sends and receives 2 * S * (N - 1) / N bytes per
  step over its own link (full bisection bandwidth assumed), so ~ 2 * S * (N - 1) / N / bw; with --wire-bytes 2
  (bf16) half of that.
* bw = link speed / 8 bytes per s (10 Gb/s = 1.25 GB/s), no overlap of communication with compute (conservative).
Epoch = ceil(1,281,167 / B) steps.
"""
import argparse
import math

IMAGES = 1_281_167


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, required=True, help="training images/s per core")
    ap.add_argument("--model", default="ResNet-50 adder")
    ap.add_argument("--params", type=int, default=25_557_032)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--driver-fixed", type=float, default=0.81)
    ap.add_argument("--sharded-fixed", type=float, default=0.3)
    ap.add_argument("--link-gbps", type=float, default=10)
    ap.add_argument("--nodes", default="4,8,16,32,64")
    ap.add_argument("--cores", default="16,64")
    ap.add_argument("--batches", default="256,4096")
    ap.add_argument("--wire-bytes", type=int, default=4)
    a = ap.parse_args()
    bw = a.link_gbps * 1e9 / 8
    s = a.params * 4
    print(f"{a.model}: r = {a.rate} images/s/core, S = {s / 1e6:.1f} MB, links {a.link_gbps:g} Gb/s, "
          f"t_fixed driver {a.driver_fixed} s / sharded {a.sharded_fixed} s, wire {a.wire_bytes} B/value\n")
    print("| B | N x C | compute/step | driver: fixed + net | driver: 150 ep | sharded: fixed + net | sharded: step | sharded: epoch | sharded: %d epochs |" % a.epochs)
    print("|---|---|---|---|---|---|---|---|---|")
    for b in [int(x) for x in a.batches.split(",")]:
        steps = math.ceil(IMAGES / b)
        for c in [int(x) for x in a.cores.split(",")]:
            for n in [int(x) for x in a.nodes.split(",")]:
                compute = b / (n * c * a.rate)
                f = math.ceil(math.sqrt(n))
                net_d = 2 * f * s / bw + s / bw
                net_s = 2 * s * (n - 1) / n / bw * a.wire_bytes / 4
                step_d = compute + a.driver_fixed + net_d
                step_s = compute + a.sharded_fixed + net_s
                print(f"| {b} | {n} x {c} | {compute:.2f} s | {a.driver_fixed:.2f} + {net_d:.2f} s | "
                      f"{step_d * steps * a.epochs / 86400:.1f} d | {a.sharded_fixed:.2f} + {net_s:.2f} s | {step_s:.2f} s | "
                      f"{step_s * steps / 3600:.2f} h | {step_s * steps * a.epochs / 3600:.0f} h |")


if __name__ == "__main__":
    main()
