#!/usr/bin/env python3
"""Writes src/test/resources/bf16/torch-rne.txt: float32 bit patterns and what PyTorch makes of them as bfloat16.

The independent reference of Bf16Test (wire=bf16): `tensor.to(torch.bfloat16)` rounds to nearest, ties to even.
Hand-picked values: exact ties (low 16 bits 0x8000) below an even and an odd bf16 mantissa, one ulp either side of
a tie, the extremes of the low half, subnormals (ties among them), the carry from mantissa into exponent, the
largest floats (overflow to Inf), +-0, +-Inf, NaNs (quiet, signalling, with payloads), and random floats of every
magnitude. One line per value: `<float32 bits> <bfloat16 bits>`, 8 and 4 hex digits. Needs torch (Debian's
python3-torch 1.13 was used): /usr/bin/python3 scripts/make-bf16-fixture.py
"""
import os
import random

import numpy as np
import torch

rng = random.Random(20261201)
bits = []
# Specials.
bits += [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF,
         0xFF800001, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FC00001, 0x7F810000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F7FFF,
         0x7F7F8000, 0x7F7F8001, 0x7F7EFFFF, 0x7F7E8000, 0x00800000, 0x80800000, 0x00000001, 0x80000001,
         0x007FFFFF, 0x807FFFFF, 0x00008000, 0x00018000, 0x00007FFF, 0x00008001, 0x3F800000, 0xBF800000]
# Every low half of interest under bf16 patterns with even and odd mantissas, both signs, exponents from the
# subnormals to the largest finite binade.
lows = [0x0000, 0x0001, 0x0002, 0x3FFF, 0x4000, 0x7FFE, 0x7FFF, 0x8000, 0x8001, 0x8002, 0xBFFF, 0xC000, 0xFFFE, 0xFFFF]
exps = [0, 1, 2, 63, 100, 126, 127, 128, 129, 200, 253, 254]
mants = [0x00, 0x01, 0x02, 0x03, 0x3E, 0x3F, 0x40, 0x41, 0x7E, 0x7F]
for s in (0, 1):
    for e in exps:
        for m in mants:
            hi = (s << 15) | (e << 7) | m
            for lo in lows:
                bits.append((hi << 16) | lo)
# Random floats: uniform bit patterns (finite and not), and random low halves under random high halves.
for _ in range(600):
    bits.append(rng.getrandbits(32))
for _ in range(400):
    bits.append((rng.getrandbits(16) << 16) | rng.choice([0x8000, 0x7FFF, 0x8001]))
seen, unique = set(), []
for b in bits:
    if b not in seen:
        seen.add(b)
        unique.append(b)

x = torch.from_numpy(np.array(unique, dtype=np.uint32).view(np.float32).copy())
y = x.to(torch.bfloat16).view(torch.int16).numpy().astype(np.uint16)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources", "bf16", "torch-rne.txt")
with open(out, "w") as f:
    f.write("# float32 bits -> bfloat16 bits by torch %s: tensor.to(torch.bfloat16); scripts/make-bf16-fixture.py\n" % torch.__version__)
    for b, h in zip(unique, y):
        f.write("%08x %04x\n" % (b, int(h)))
print("%d values -> %s" % (len(unique), os.path.normpath(out)))
