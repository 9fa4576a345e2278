#!/usr/bin/env bash
# Run every test layer: unit, lint, molecule scenarios (systemd containers), integration.
#
#   ./test.sh            everything (sets up .venv, docker.io, dockerd and the base image)
#   ./test.sh --fast     unit + lint only: seconds, no Docker needed
#   ./test.sh [--fast] [pytest args...]   e.g. ./test.sh -k ntp
#
# All layers are collected by pytest, so the last line counts every test that ran.
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
. scripts/venv.sh

fast=0
if [ "${1:-}" = "--fast" ]; then fast=1; shift; fi

ensure_venv requirements-dev.txt

export NO_COLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
demo/node/tools.sh
if [ "$fast" -eq 1 ]; then
  exec pytest -m "not molecule and not integration and not e2e" "$@"
fi

demo/node/docker.sh
demo/node/build-image.sh
demo/node/build-image.sh bullseye  # Debian 11 hosts in the mixed-release scenarios
tests/testbed/clean.sh
# Two workers: scenarios and integration modules run two at a time (each has its own
# containers, network and subnet); an integration module stays on one worker (its
# module-scoped containers). TEST_WORKERS=1 runs them one by one.
exec pytest -n "${TEST_WORKERS:-2}" --dist loadgroup --durations=40 "$@"
