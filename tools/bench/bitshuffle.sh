#!/usr/bin/env bash
# Micro-benchmark of daqfs' chunk decoders against Debian's HDF5 filter plugins, on one core
# (taskset), with the chunks in memory (no I/O). Data: FRAMES frames of 1065 x 1030 u16
# Poisson counts (numpy.random.poisson(LAM), seed 1) written by h5py with one chunk per frame,
# once with filter 32008 (bitshuffle + LZ4, compression_opts=(0, 2): default 8 KiB blocks) and
# once with 32004 (HDF5 LZ4, the plugin's default block). Then, when the real samples are there,
# the EIGER1 bslz4 and lz4 data files. For each file tools/bench/bitshuffle_bench checks that
# every method decodes every chunk to the plugin's bytes, then prints medians of RUNS
# interleaved runs: GB/s of decoded bytes, min, max, ratio to the plugin, frames/s. Methods:
#   plugin       the plugin's filter function, dlopened and called as libhdf5 calls it
#   libhdf5      H5Dread per frame (library + plugin; what h5py does)
#   ours-scalar / ours-avx2   DecodeBitshuffleLz4Chunk with each unshuffle path (32008)
#   ours         DecodeHdf5Lz4Chunk (32004)
#   ours-fresh   ours into a newly allocated buffer per frame (page faults included)
# Usage: tools/bench/bitshuffle.sh [--frames N] [--lam L] [--runs N] [--cpu C] [--dir WORKDIR]
#                                  [--keep]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
frames=200
lam=2
runs=7
cpu=0
work=/var/tmp/daqfs-bench-bitshuffle
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames=$2; shift ;;
    --lam) lam=$2; shift ;;
    --runs) runs=$2; shift ;;
    --cpu) cpu=$2; shift ;;
    --dir) work=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bitshuffle.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done
PY=/usr/bin/python3
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target bitshuffle_bench >/dev/null
bench=$root/build/tools/bench/bitshuffle_bench

mkdir -p "$work"
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

stamp="$frames-$lam"
if [ "$(cat "$work/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "generating $frames frames of 1065x1030 u16 Poisson($lam) counts ..." >&2
  $PY - "$work" "$frames" "$lam" <<'PYEOF'
import sys
import h5py
import numpy as np
work, frames, lam = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
data = np.random.default_rng(1).poisson(lam, (frames, 1065, 1030)).astype(np.uint16)
for name, comp, opts in (("bslz4", 32008, (0, 2)), ("lz4", 32004, None)):
    with h5py.File(f"{work}/{name}.h5", "w") as f:
        kw = {"compression_opts": opts} if opts else {}
        f.create_dataset("data", data=data, chunks=(1, 1065, 1030), compression=comp, **kw)
PYEOF
  echo "$stamp" >"$work/stamp"
fi

run() {
  echo
  taskset -c "$cpu" "$bench" "$1" "$2" --runs "$runs"
}
echo "bitshuffle.sh: one core (cpu $cpu), $runs interleaved runs, $(nproc) cores, $(uname -r)"
grep -m1 'model name' /proc/cpuinfo || true
run "$work/bslz4.h5" /data
run "$work/lz4.h5" /data
samples=$root/../shared/data/hdf5/dectris-h5-testfiles/datasets_eiger1
if [ -d "$samples" ]; then
  run "$samples/eiger1_testmode10_2datafiles_4images_bslz4_data_000001.h5" /entry/data/data
  run "$samples/eiger1_testmode10_2datafiles_4images_lz4_data_000001.h5" /entry/data/data
fi
