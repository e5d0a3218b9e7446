#!/usr/bin/env bash
# End-to-end test of the Debian package (CTest "package_deb", label package, RUN_SERIAL):
#   1. cpack -G DEB in the build folder writes daqfs_VERSION_ARCH.deb with the expected fields,
#      files and conffile;
#   2. apt-get installs it (no network: its dependencies are installed); the tools, the manual
#      pages, the mount helper and the unit are in place; systemd-analyze verify accepts
#      daqfs@demo.service and the example mnt-daq.mount;
#   3. a tiny tar is mounted through /sbin/mount.fuse.daqfs: mount -f (fake) mounts nothing;
#      "mount -T TEMP_FSTAB MOUNTPOINT" and "env -i PATH=/nonexistent mount -t fuse.daqfs" both
#      run /usr/bin/daqfs, read back byte-equal and are nosuid,nodev; umount / fusermount3 -u;
#   4. apt-get remove leaves only the conffile, apt-get purge removes everything.
# Everything is undone on any exit (trap): mounts, our daqfs processes, the package, temp files.
# Refuses to run when a daqfs package is already known to dpkg (someone else's install).
# Usage: package_test.sh BUILD_DIR SOURCE_DIR   (as root)
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2; exit 2; }
build=$(readlink -f "$1")
source_dir=$(readlink -f "$2")
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -qq --no-install-recommends -o DPkg::Lock::Timeout=300
  # Minimal images exclude /usr/share/man and /usr/share/doc from dpkg: let ours in.
  -o "DPkg::Options::=--path-include=/usr/share/man/man*/daqfs*"
  -o "DPkg::Options::=--path-include=/usr/share/doc/daqfs/*")

tmp=""
installed=0
failures=0
start=$SECONDS

say() { echo "[$((SECONDS - start))s] $*"; }
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
fatal() {
  echo "FAIL: $*" >&2
  exit 1
}

# Our daqfs daemons: those whose command line names our temp folder.
our_daqfs_pids() {
  [ -n "$tmp" ] || return 0
  local d
  for d in /proc/[0-9]*; do
    if { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -qF -- "$tmp/"; then
      [ "$(readlink "$d/exe" 2>/dev/null)" = /usr/bin/daqfs ] && echo "${d#/proc/}"
    fi
  done
}
mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts; }
wait_gone() {  # PID...: wait up to 10 s for them to exit
  local p alive
  for _ in $(seq 100); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

cleanup() {
  local rc=$?
  set +e
  if [ -n "$tmp" ]; then
    if mounted "$tmp/mnt"; then
      fusermount3 -u "$tmp/mnt" 2>/dev/null || umount -l "$tmp/mnt"
    fi
    local pids
    pids=$(our_daqfs_pids)
    if [ -n "$pids" ]; then
      # shellcheck disable=SC2086
      kill $pids 2>/dev/null
      # shellcheck disable=SC2086
      wait_gone $pids || kill -9 $pids 2>/dev/null
    fi
  fi
  if [ "$installed" = 1 ]; then
    echo "cleanup: purging the daqfs package" >&2
    apt-get purge "${apt_opts[@]}" daqfs >/dev/null
  fi
  [ -n "$tmp" ] && rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || fatal "needs root: it installs a package and mounts"
status=$(dpkg-query -W -f='${db:Status-Abbrev}' daqfs 2>/dev/null)
case $status in
  "" | un* | pn*) ;;
  *) fatal "a daqfs package is already on this machine (dpkg status '$status'): this test" \
    "installs and purges daqfs, so it will not touch that install. Remove it first" \
    "(apt-get purge daqfs) or run the test on another machine." ;;
esac
for f in /usr/bin/daqfs /sbin/mount.fuse.daqfs; do
  [ -e "$f" ] && fatal "$f exists without a daqfs package (a manual install?): remove it first"
done

tmp=$(mktemp -d /tmp/daqfs-pkgtest.XXXXXX)
chmod 755 "$tmp"  # apt reads the .deb as user _apt
mkdir "$tmp/mnt" "$tmp/src" "$tmp/units"

# --- 1. build the package -------------------------------------------------------------------------
version=$("$build/tools/daqfs" --version) || fatal "$build/tools/daqfs --version failed"
version=${version#daqfs }
arch=$(dpkg --print-architecture)
deb="daqfs_${version}_${arch}.deb"
rm -f "$build"/daqfs_*.deb
t0=$SECONDS
(cd "$build" && cpack -G DEB >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fatal "cpack failed"; }
say "cpack -G DEB: $((SECONDS - t0)) s"
[ -f "$build/$deb" ] || fatal "cpack did not write $build/$deb: $(ls "$build"/*.deb 2>&1)"
cp "$build/$deb" "$tmp/"
chmod 644 "$tmp/$deb"

field() { dpkg-deb -f "$tmp/$deb" "$1"; }
[ "$(field Package)" = daqfs ] || fail "Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', want $version"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture is '$(field Architecture)'"
[ "$(field Section)" = utils ] || fail "Section is '$(field Section)'"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ "$(field Description | wc -l)" -ge 3 ] || fail "Description has no long text"
depends=$(field Depends)
depend_names=$(sed 's/ *([^)]*)//g; s/, */\n/g' <<<"$depends")
for d in fuse3 libfuse3-3 libc6 libstdc++6 libzstd1 libinih1 libdeflate0 zlib1g liblzma5 libbz2-1.0; do
  grep -qxF "$d" <<<"$depend_names" || fail "Depends lacks $d: $depends"
done
contents=$(dpkg-deb -c "$tmp/$deb" | awk '{ print $6 }')
for f in ./usr/bin/daqfs ./usr/bin/daqfs-cache ./usr/bin/daqfs-repack ./sbin/mount.fuse.daqfs \
  ./usr/bin/daqfs-sim ./usr/share/man/man1/daqfs-sim.1.gz \
  ./lib/systemd/system/daqfs@.service ./etc/daqfs/daqfs.example.ini \
  ./usr/share/man/man8/daqfs.8.gz ./usr/share/man/man1/daqfs-cache.1.gz \
  ./usr/share/man/man1/daqfs-repack.1.gz ./usr/share/man/man5/daqfs.ini.5.gz \
  ./usr/share/doc/daqfs/examples/mnt-daq.mount ./usr/bin/daqfs-metrics-textfile \
  ./lib/systemd/system/daqfs-metrics-textfile@.service \
  ./lib/systemd/system/daqfs-metrics-textfile@.timer \
  ./usr/share/man/man1/daqfs-metrics-textfile.1.gz; do
  grep -qxF "$f" <<<"$contents" || fail "the package lacks $f"
done
grep -q '^\./usr/local' <<<"$contents" && fail "the package has files under /usr/local"
mkdir "$tmp/control"
dpkg-deb -e "$tmp/$deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles" 2>/dev/null)" = /etc/daqfs/daqfs.example.ini ] ||
  fail "conffiles is not /etc/daqfs/daqfs.example.ini"
for script in postinst prerm postrm; do
  [ -x "$tmp/control/$script" ] || fail "the package has no executable $script"
done

# --- 2. install -----------------------------------------------------------------------------------
installed=1  # from here on, cleanup purges (the package was not there before)
t0=$SECONDS
apt-get install "${apt_opts[@]}" "$tmp/$deb" >"$tmp/apt.log" 2>&1 ||
  { cat "$tmp/apt.log"; fatal "apt-get install $deb failed"; }
say "apt-get install: $((SECONDS - t0)) s"
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' daqfs)" = "ii " ] || fatal "daqfs is not installed"

[ "$(/usr/bin/daqfs --version)" = "daqfs $version" ] || fail "/usr/bin/daqfs --version is wrong"
/usr/bin/daqfs-cache --help >/dev/null || fail "daqfs-cache --help failed"
/usr/bin/daqfs-repack --help >/dev/null || fail "daqfs-repack --help failed"
/usr/bin/daqfs-sim --help >/dev/null || fail "daqfs-sim --help failed"
for page in "8 daqfs" "1 daqfs-cache" "1 daqfs-repack" "1 daqfs-sim" "1 daqfs-metrics-textfile" \
  "5 daqfs.ini"; do
  read -r sec name <<<"$page"
  where=$(man -a -w "$sec" "$name" 2>&1)
  grep -qxF "/usr/share/man/man$sec/$name.$sec.gz" <<<"$where" ||
    fail "man -w $sec $name gives: $where"
  MANWIDTH=80 man -P cat "$sec" "$name" 2>&1 | grep -q "^NAME" || fail "man $sec $name fails"
done
header=$(od -An -tu1 -N9 /usr/share/man/man8/daqfs.8.gz | tr -s ' ' | sed 's/^ //')
[ "$header" = "31 139 8 0 0 0 0 0 2" ] || fail "installed daqfs.8.gz is not gzip -9n"
[ -x /sbin/mount.fuse.daqfs ] || fail "/sbin/mount.fuse.daqfs is not executable"
grep -qx "daqfs='/usr/bin/daqfs'" /sbin/mount.fuse.daqfs ||
  fail "/sbin/mount.fuse.daqfs does not name /usr/bin/daqfs"
# shellcheck disable=SC2016
grep -qx 'ExecStart=/usr/bin/daqfs -f /etc/daqfs/%i.ini $DAQFS_ARGS' \
  /lib/systemd/system/daqfs@.service || fail "daqfs@.service has an unexpected ExecStart"
cmp -s /etc/daqfs/daqfs.example.ini "$source_dir/configs/daqfs.example.ini" ||
  fail "/etc/daqfs/daqfs.example.ini differs from configs/daqfs.example.ini"
dpkg-query -W -f='${Conffiles}' daqfs | grep -q '/etc/daqfs/daqfs.example.ini' ||
  fail "dpkg does not list /etc/daqfs/daqfs.example.ini as a conffile"

# systemd-analyze verify prints problems (unknown keys, missing binaries or man pages) and may
# still exit 0: any output is a failure. A template is verified through an instance's file name.
cp /lib/systemd/system/daqfs@.service "$tmp/units/daqfs@demo.service"
cp /usr/share/doc/daqfs/examples/mnt-daq.mount "$tmp/units/"
cp /lib/systemd/system/daqfs-metrics-textfile@.service \
  "$tmp/units/daqfs-metrics-textfile@mnt-daq.service"
cp /lib/systemd/system/daqfs-metrics-textfile@.timer "$tmp/units/daqfs-metrics-textfile@mnt-daq.timer"
grep -qx 'ExecStart=/usr/bin/daqfs-metrics-textfile /%I /var/lib/prometheus/node-exporter %i' \
  /lib/systemd/system/daqfs-metrics-textfile@.service ||
  fail "daqfs-metrics-textfile@.service has an unexpected ExecStart"
[ "$(/usr/bin/daqfs-metrics-textfile --version)" = "daqfs-metrics-textfile $version" ] ||
  fail "/usr/bin/daqfs-metrics-textfile --version is wrong"
out=$(cd "$tmp/units" && systemd-analyze verify "$tmp/units/daqfs@demo.service" \
  "$tmp/units/mnt-daq.mount" "$tmp/units/daqfs-metrics-textfile@mnt-daq.service" \
  "$tmp/units/daqfs-metrics-textfile@mnt-daq.timer" 2>&1)
rc=$?
if [ "$rc" != 0 ] || [ -n "$out" ]; then
  fail "systemd-analyze verify (exit $rc): $out"
fi
say "installed package checked"

# --- 3. mount through the helper ------------------------------------------------------------------
printf 'hello from daqfs\n' >"$tmp/src/hello.txt"
head -c 3000000 /dev/urandom >"$tmp/src/big.bin"
# A setuid-root program in the archive: through the installed helper it must run as the caller.
cp "$build/tests/daqfs_print_ids" "$tmp/src/print_ids"
chown 0:0 "$tmp/src/print_ids"
chmod 6755 "$tmp/src/print_ids"
tar -C "$tmp/src" -cf "$tmp/data.tar" hello.txt big.bin print_ids
cat >"$tmp/pkg.ini" <<EOF
[cache]
dir = $tmp/cache
[source t]
type = archive
path = $tmp/data.tar
EOF
echo "$tmp/pkg.ini $tmp/mnt fuse.daqfs ro,allow_other 0 0" >"$tmp/fstab"
mnt=$tmp/mnt

check_mount() {  # HOW: the mount must serve the tar, by /usr/bin/daqfs, ro,nosuid,nodev
  local how=$1 line opts pids ids
  line=$(awk -v m="$mnt" '$2 == m' /proc/self/mounts)
  if [ -z "$line" ]; then
    fail "$how: nothing mounted on $mnt"
    return 1
  fi
  [ "$(awk '{ print $3 }' <<<"$line")" = fuse.daqfs ] || fail "$how: type is not fuse.daqfs: $line"
  opts=,$(awk '{ print $4 }' <<<"$line"),
  [[ $opts == *,ro,* ]] || fail "$how: not mounted ro: $line"
  # daqfs itself always mounts nosuid,nodev (also when mount.fuse3 asks for dev,suid).
  [[ $opts == *,nosuid,* ]] || fail "$how: not mounted nosuid: $line"
  [[ $opts == *,nodev,* ]] || fail "$how: not mounted nodev: $line"
  cmp "$tmp/src/hello.txt" "$mnt/t/data.tar/hello.txt" || fail "$how: hello.txt differs"
  cmp "$tmp/src/big.bin" "$mnt/t/data.tar/big.bin" || fail "$how: big.bin differs"
  [ "$(stat -c %a "$mnt/t/data.tar/print_ids")" = 755 ] ||
    fail "$how: print_ids shows setuid/setgid bits: $(stat -c %a "$mnt/t/data.tar/print_ids")"
  ids=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$mnt/t/data.tar/print_ids" 2>&1)
  [ "$ids" = "euid=65534 egid=65534" ] || fail "$how: setuid-root print_ids as 65534 gave: $ids"
  pids=$(our_daqfs_pids)
  [ "$(wc -w <<<"$pids")" = 1 ] || fail "$how: want one /usr/bin/daqfs process, found: '$pids'"
}
unmount_and_wait() {  # HOW COMMAND...: unmount, then the daemon must be gone and the mount too
  local how=$1 pids
  shift
  pids=$(our_daqfs_pids)
  "$@" || fail "$how: $* failed"
  # shellcheck disable=SC2086
  wait_gone $pids || fail "$how: daqfs ($pids) still runs 10 s after $*"
  mounted "$mnt" && fail "$how: $mnt still mounted after $*"
}

# mount -f (fake) goes through the helper with -f: nothing may be mounted or started.
mount -f -T "$tmp/fstab" "$mnt" || fail "mount -f -T fstab failed"
out=$(/sbin/mount.fuse.daqfs "$tmp/pkg.ini" "$mnt" -f -v -o ro,allow_other 2>&1) ||
  fail "mount.fuse.daqfs -f -v failed: $out"
[[ $out == *"/sbin/mount.fuse3 $tmp/pkg.ini $mnt -t /usr/bin/daqfs -o ro,allow_other"* ]] ||
  fail "mount.fuse.daqfs -v printed: $out"
mounted "$mnt" && fail "fake mount (-f) mounted $mnt"
[ -z "$(our_daqfs_pids)" ] || fail "fake mount (-f) started daqfs"
# A fake mount checks the configuration as daqfs --check-config does.
printf '[mount]\nfrobnicate = 1\n' > "$tmp/bad.ini"
out=$(/sbin/mount.fuse.daqfs "$tmp/bad.ini" "$mnt" -f 2>&1) &&
  fail "mount.fuse.daqfs -f accepted a bad configuration"
[[ $out == *"$tmp/bad.ini:2: unknown key 'frobnicate'"* ]] ||
  fail "mount.fuse.daqfs -f on a bad configuration printed: $out"

# The fstab line, through mount(8) and /sbin/mount.fuse.daqfs.
t0=$SECONDS
mount -T "$tmp/fstab" "$mnt" || fatal "mount -T $tmp/fstab $mnt failed"
say "mount -T fstab: $((SECONDS - t0)) s"
check_mount "fstab"
unmount_and_wait "fstab" umount "$mnt"

# Whatever PATH is: mount(8) with an empty environment and a PATH that has nothing.
env -i PATH=/nonexistent /bin/mount -v -n -s -t fuse.daqfs -o ro,allow_other "$tmp/pkg.ini" \
  "$mnt" || fatal "env -i PATH=/nonexistent mount -t fuse.daqfs failed"
check_mount "mount -t fuse.daqfs, PATH=/nonexistent"
unmount_and_wait "PATH=/nonexistent" fusermount3 -u "$mnt"
say "mounts checked"

# --- 4. remove, then purge ------------------------------------------------------------------------
apt-get remove "${apt_opts[@]}" daqfs >"$tmp/apt.log" 2>&1 ||
  { cat "$tmp/apt.log"; fatal "apt-get remove daqfs failed"; }
for f in /usr/bin/daqfs /usr/bin/daqfs-cache /usr/bin/daqfs-repack /usr/bin/daqfs-sim \
  /sbin/mount.fuse.daqfs /lib/systemd/system/daqfs@.service /usr/share/man/man8/daqfs.8.gz; do
  [ -e "$f" ] && fail "$f is still there after apt-get remove"
done
[ -f /etc/daqfs/daqfs.example.ini ] || fail "apt-get remove deleted the conffile"
apt-get purge "${apt_opts[@]}" daqfs >"$tmp/apt.log" 2>&1 ||
  { cat "$tmp/apt.log"; fatal "apt-get purge daqfs failed"; }
installed=0
[ -e /etc/daqfs/daqfs.example.ini ] && fail "/etc/daqfs/daqfs.example.ini is still there after purge"
case $(dpkg-query -W -f='${db:Status-Abbrev}' daqfs 2>/dev/null) in
  "" | un* | pn*) ;;
  *) fail "dpkg still knows daqfs after purge" ;;
esac
say "removed and purged"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "package test passed in $((SECONDS - start)) s"
