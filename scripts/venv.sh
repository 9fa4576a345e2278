# shellcheck shell=bash
# Source me: ensure_venv REQUIREMENTS_FILE
# Creates .venv beside this repository with the pinned packages (and constraints.txt for
# every transitive one), re-installing only when the requirement files change.
ensure_venv() {
  local top req stamp hash py
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  req="$top/$1"
  py="${DCOS_PYTHON:-python3}"
  hash=$(cat "$req" "$top/requirements.txt" "$top/constraints.txt" | sha256sum | cut -c1-16)
  stamp="$top/.venv/.installed-$(basename "$req" .txt)-$hash"
  if [ ! -f "$stamp" ]; then
    if ! "$py" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
      echo "install: Python 3.10 or newer is needed ($py is not)" >&2; return 2
    fi
    if [ ! -x "$top/.venv/bin/python" ]; then
      "$py" -m venv "$top/.venv" || {
        echo "install: could not create a virtual environment; on Debian/Ubuntu: apt-get install python3-venv" >&2
        return 2
      }
    fi
    echo "[setup] installing pinned Python packages from $(basename "$req") into .venv" >&2
    "$top/.venv/bin/python" -m pip install -q --disable-pip-version-check \
      -r "$req" -c "$top/constraints.txt" >&2 || return 1
    rm -f "$top/.venv/.installed-$(basename "$req" .txt)-"*
    touch "$stamp"
  fi
  export PATH="$top/.venv/bin:$PATH"
  export ANSIBLE_CONFIG="$top/ansible.cfg"
}
