#!/bin/sh
# hold-data.sh hold DIR... | release
#
# Keeps data folders out of reach of the packages' purge scripts while they run: Debian's
# zookeeper and consul delete /var/lib/zookeeper and /var/lib/consul on purge, docker.io runs
# its nuke-graph-directory.sh on /var/lib/docker, mariadb-server may empty /var/lib/mysql.
#   hold     a folder that is not a mount point is renamed to DIR.dcos-uninstall-held (same
#            filesystem: instant, nothing copied); a mount point is bind-mounted under
#            /run/dcos-uninstall-held/N and unmounted from DIR (it cannot be renamed), so the
#            purge sees an empty folder of the parent filesystem.
#   release  puts every held folder back and forgets the hold.
# What is held is written to the state file first, so a release after a failure (or a second
# hold, which releases the first) finds it. Prints one line per folder held or released.
set -eu
state=/var/lib/dcos-uninstall-held
holds=/run/dcos-uninstall-held
tab=$(printf '\t')

release() {
  [ -f "$state" ] || return 0
  while IFS="$tab" read -r kind held dir; do
    case $kind in
      move)
        if [ -e "$held" ]; then
          # A purge script may have left (or a package re-created) an empty folder in its place.
          [ -d "$dir" ] && rmdir "$dir" 2>/dev/null || true
          if [ -e "$dir" ]; then
            echo "cannot put $held back: $dir exists and is not empty" >&2
            exit 1
          fi
          mv "$held" "$dir"
          echo "released $dir"
        fi
        ;;
      mount)
        if mountpoint -q "$held"; then
          mkdir -p "$dir"
          mountpoint -q "$dir" || mount --bind "$held" "$dir"
          umount "$held"
          rmdir "$held"
          echo "released $dir (mount point)"
        fi
        ;;
    esac
  done < "$state"
  rm -f "$state"
  rmdir "$holds" 2>/dev/null || true
}

case ${1:-} in
  hold)
    shift
    release
    n=0
    for dir in "$@"; do
      n=$((n + 1))
      [ -e "$dir" ] || continue
      if mountpoint -q "$dir"; then
        held=$holds/$n
        mkdir -p "$held"
        printf 'mount\t%s\t%s\n' "$held" "$dir" >> "$state"
        mount --bind "$dir" "$held"
        umount "$dir"
        echo "held $dir (mount point) at $held"
      else
        held=$dir.dcos-uninstall-held
        if [ -e "$held" ]; then
          echo "cannot hold $dir: $held exists" >&2
          exit 1
        fi
        printf 'move\t%s\t%s\n' "$held" "$dir" >> "$state"
        mv "$dir" "$held"
        echo "held $dir at $held"
      fi
    done
    ;;
  release)
    release
    ;;
  *)
    echo "usage: $0 hold DIR... | release" >&2
    exit 2
    ;;
esac
