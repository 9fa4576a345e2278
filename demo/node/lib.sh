# shellcheck shell=bash
# Shared helpers of the test-bed scripts. Source it; do not run it.

TESTBED_STATE="${DCOS_TESTBED_STATE:-/var/tmp/dcos-testbed}"
# Label put on every container, network and image the test bed owns, so a later
# run can find and remove what a killed run left behind.
TESTBED_LABEL="dcos-testbed=1"

say() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "need root for: $* (run as root, or give this user passwordless sudo)"
  fi
}
