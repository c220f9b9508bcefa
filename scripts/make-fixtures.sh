#!/usr/bin/env bash
# Builds the small Fashion-MNIST fixture the data-layer tests read: the FIRST 1000 training and FIRST 500
# test images+labels, as gzip IDX files with the official names, cut from the Debian package
# dataset-fashion-mnist (apt-get install dataset-fashion-mnist). Deterministic output (gzip mtime 0).
# Prints pixel sums and label counts computed here, independently of the Java reader, for the tests.
#
# usage: scripts/make-fixtures.sh [source-dir] [dest-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:-/usr/share/datasets/fashion-mnist}"
dst="${2:-src/test/resources/fashion-mnist-small}"
if [ ! -f "$src/train-images-idx3-ubyte.gz" ]; then
  echo "no Fashion-MNIST in $src: install the Debian package dataset-fashion-mnist" >&2
  exit 1
fi
mkdir -p "$dst"
python3 - "$src" "$dst" <<'PY'
import gzip, struct, sys
src, dst = sys.argv[1], sys.argv[2]

def cut(name, magic, dims, n):
    with gzip.open(f"{src}/{name}.gz", "rb") as f:
        data = f.read()
    got_magic, *shape = struct.unpack(">I" + "I" * dims, data[:4 + 4 * dims])
    assert got_magic == magic, (name, hex(got_magic))
    assert shape[0] >= n, (name, shape)
    item = 1
    for d in shape[1:]:
        item *= d
    head = 4 + 4 * dims
    body = data[head:head + n * item]
    out = struct.pack(">I" + "I" * dims, magic, n, *shape[1:]) + body
    with open(f"{dst}/{name}.gz", "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as g:
            g.write(out)
    return body, item

for split, n in (("train", 1000), ("t10k", 500)):
    images, item = cut(f"{split}-images-idx3-ubyte", 0x803, 3, n)
    labels, _ = cut(f"{split}-labels-idx1-ubyte", 0x801, 1, n)
    sums = {i: sum(images[i * item:(i + 1) * item]) for i in (0, 1, n - 1)}
    counts = [labels.count(bytes([c])) for c in range(10)]
    print(f"{split}: n={n} pixel sums {sums} total {sum(images)} labels[0:5]={list(labels[:5])} counts={counts}")
PY
du -ch "$dst"/* | tail -1
