#!/usr/bin/env bash
# Benchmark of live stream ingest (issue 10), against a bare ZeroMQ PULL receiver in the same
# run: raw uint16 frames of 1, 4 and 16 MiB (one dectris-stream2 message each) sent by daqfs-sim
# as fast as its socket takes them, never blocking (drops counted); receivers interleaved: bare
# (a PULL socket that only counts; bare+copy: copying each frame once, for comparison), daqfs (a
# stream source, nobody reading), daqfs while a reader cats every frame as it appears. Ingest
# rate from the receivers' own arrival times (daqfs: the frames' mtimes); loss = frames the
# receiver does not have. Then the time from a frame's
# arrival to its visibility to stat (p50/p99) with 4 MiB frames at 200 frames/s.
# Rules of issue 10: >= 0.85x the bare receiver at 4 MiB with and without a reader, zero loss,
# p99 visibility under 5 ms. Details: tools/bench/stream_bench.py.
# Usage: tools/bench/stream.sh [--runs N] [--bytes-per-run BYTES] [--sizes 1,4,16] [--dir WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
runs=5
bytes=$((1 << 30))
sizes=1,4,16
work=/var/tmp/daqfs-bench-stream
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    --bytes-per-run) bytes=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --dir) work=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "stream.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "stream.sh: needs root (mounts)" >&2; exit 1; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target daqfs daqfs-sim >/dev/null
mkdir -p "$work"
cleanup() {
  grep -qs " $work/mnt " /proc/mounts && { fusermount3 -u "$work/mnt" 2>/dev/null || umount -l "$work/mnt"; } || true
  rm -rf "$work"
}
trap cleanup EXIT
/usr/bin/python3 tools/bench/stream_bench.py --daqfs "$root/build/tools/daqfs" \
  --sim "$root/build/tools/daqfs-sim" --work "$work" --runs "$runs" --bytes-per-run "$bytes" \
  --sizes "$sizes" ${VISIBILITY_RATE:+--visibility-rate $VISIBILITY_RATE}
