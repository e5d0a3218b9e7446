#!/usr/bin/env bash
# Installs what is missing, builds daqfs and runs every test (unit, end-to-end, package) with ctest.
# Usage: tools/check.sh [--asan] [--label unit|e2e|package] [-- extra ctest args]
#   --asan    build with AddressSanitizer + UndefinedBehaviorSanitizer (folder build-asan)
# Exits non-zero if the build or any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

asan=OFF
build=build
label=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --asan) asan=ON; build=build-asan ;;
    --label) label="$2"; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "check.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done

tools/install-deps.sh
jobs=$(nproc)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDAQFS_SANITIZE="$asan" >/dev/null
cmake --build "$build" -j"$jobs"
args=(--test-dir "$build" --output-on-failure -j"$jobs")
[ -n "$label" ] && args+=(-L "$label")
if [ "$asan" = ON ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
ctest "${args[@]}" "${extra[@]}"
