#!/usr/bin/env bash
# Install the DCOS cluster described by one config file.
#
#   ./install.sh config.cfg [options]     see ./install.sh --help
#
# Sets up the installer's Python environment on first use (.venv beside this file), then
# hands over to the installer (python -m installer). Exit codes: 0 success, 1 run failed,
# 2 bad input, 3 precheck failed, 130 interrupted.
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
. "$top/scripts/venv.sh"
ensure_venv requirements.txt || exit $?
cd "$top"
exec python -m installer "$@"
