#!/usr/bin/env bash
# Make sure a Docker engine answers: install Debian's docker.io if dockerd is missing,
# start dockerd in the background when none runs (no systemd on the test machine),
# wait for its socket. Idempotent; a no-op when `docker info` already answers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

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
