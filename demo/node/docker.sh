#!/usr/bin/env bash
# Make sure a Docker engine answers: install Debian's docker.io if dockerd is missing,
# start dockerd in the background when none runs (no systemd on the test machine),
# wait for its socket. Idempotent; a no-op when `docker info` already answers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# Every systemd container holds about ten inotify instances (systemd, journald, dnsmasq,
# containerd...), all counted against root of the test machine, whose default limit is 128:
# twelve containers (the benchmark's 8 agents, or the e2e cluster beside a molecule scenario)
# run out, and dnsmasq then fails to start ("failed to create inotify"). Raise, never lower,
# to the values kind documents for the same problem.
raise_sysctl() {
  local key=$1 want=$2 file have
  file=/proc/sys/${key//./\/}
  have=$(cat "$file" 2>/dev/null || echo 0)
  if [ "$have" -lt "$want" ]; then
    if { [ -w "$file" ] && echo "$want" > "$file"; } 2>/dev/null ||
       { command -v sudo >/dev/null && sudo -n sh -c "echo $want > $file"; } 2>/dev/null; then
      say "raised $key from $have to $want (systemd containers)"
    else
      say "WARNING: $key is $have and cannot be raised; many containers may fail to start services"
    fi
  fi
}
raise_sysctl fs.inotify.max_user_instances 1024
raise_sysctl fs.inotify.max_user_watches 524288

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "installing docker.io (Debian package)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    docker.io >/dev/null
fi

as_root mkdir -p "$TESTBED_STATE"
log="$TESTBED_STATE/dockerd.log"
# A dockerd killed with its session leaves a pid file behind; dockerd refuses to start over it.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  as_root rm -f /var/run/docker.pid
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  say "starting dockerd (log: $log)"
  as_root sh -c "nohup setsid dockerd >>'$log' 2>&1 </dev/null &"
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    say "dockerd answers"
    exit 0
  fi
  sleep 1
done
tail -n 20 "$log" >&2 || true
die "dockerd did not answer within 60 s; see $log"
