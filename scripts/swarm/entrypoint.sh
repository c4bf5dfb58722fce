#!/bin/sh
# A node's dockerd needs /sys and its cgroup hierarchies writable. The node runs without
# --privileged (this host's bounding set lacks CAP_SYS_RESOURCE), so they come read-only:
# remount each read-write here. `remount,rw,bind` changes the mount's own flag; a plain
# remount of a cgroup hierarchy fails with "mount point is busy".
set -e
mount -o remount,rw /sys
for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
  if [ -d "$d" ] && [ ! -L "$d" ] && mountpoint -q "$d"; then
    mount -o remount,rw,bind "$d"
  fi
done
mkdir -p /ext
exec dockerd "$@"
