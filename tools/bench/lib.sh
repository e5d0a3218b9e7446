# What the benchmark scripts share (sourced, not run): cold runs of one daqfs daemon at a time.
# Before calling these a script sets `work` (its scratch folder), `mnt` (the mount point) and
# `daqfs` (the binary under test).

# Drops the page cache (a "cold" run starts with this and an emptied daqfs cache folder).
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
# Seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }
# mount_d ARGS...: starts `daqfs -f --ready-fd 3 ARGS... $mnt` in the background and returns
# once it serves requests; its stderr is appended to $work/daqfs.log.
mount_d() {
  local fifo=$work/ready
  rm -f "$fifo"; mkfifo "$fifo"
  "$daqfs" -f --ready-fd 3 "$@" "$mnt" 3>"$fifo" 2>>"$work/daqfs.log" &
  d_pid=$!
  read -r _ < "$fifo"
}
# Unmounts $mnt and waits for the daemon mount_d started.
umount_d() { fusermount3 -u "$mnt"; wait "$d_pid" || true; d_pid=; }
# For an EXIT trap: unmounts MOUNTPOINT... (default $mnt) if mounted and ends the daemon left.
stop_d() {
  local m
  for m in "${@:-$mnt}"; do
    grep -qs " $m " /proc/mounts && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; } || true
  done
  [ -n "${d_pid:-}" ] && kill "$d_pid" 2>/dev/null || true
}
