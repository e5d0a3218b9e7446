#!/usr/bin/env bash
# Installs what is missing, checks the C++ formatting, builds daqfs and runs every test (unit,
# end-to-end, package) with ctest.
# Usage: tools/check.sh [--asan] [--format] [--label unit|e2e|package] [-- extra ctest args]
#   --asan    build with AddressSanitizer + UndefinedBehaviorSanitizer (folder build-asan)
#   --format  only check the formatting: clang-format --dry-run -Werror with the repo's
#             .clang-format over every tracked *.cc / *.h; lists the files that differ
# Exits non-zero if a file is not formatted (listed; fix with clang-format -i FILE...), or the
# build or any test fails. Every run checks the formatting first, before building.
set -euo pipefail
cd "$(dirname "$0")/.."

asan=OFF
build=build
label=""
format_only=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --asan) asan=ON; build=build-asan ;;
    --format) format_only=1 ;;
    --label) label="$2"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "check.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done

# The C++ files to check: tracked ones (git), else every *.cc / *.h outside build folders.
cxx_files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z -- '*.cc' '*.h'
  else
    find . -path './build*' -prune -o -type f \( -name '*.cc' -o -name '*.h' \) -print0
  fi
}

check_format() {
  command -v clang-format >/dev/null || {
    echo "check.sh: clang-format is missing (tools/install-deps.sh installs it)" >&2
    return 1
  }
  local bad=() f
  while IFS= read -r -d '' f; do
    clang-format --style=file --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done < <(cxx_files)
  if [ ${#bad[@]} -gt 0 ]; then
    echo "check.sh: ${#bad[@]} files differ from .clang-format (clang-format -i FILE... fixes them):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    return 1
  fi
  echo "check.sh: formatting ok ($(clang-format --version | grep -o 'version [0-9.]*'))"
}

tools/install-deps.sh
if [ "$format_only" = 1 ]; then
  check_format
  exit
fi
check_format
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
