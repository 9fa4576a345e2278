# shellcheck shell=bash
# Source me: ensure_venv REQUIREMENTS_FILE
# Creates .venv beside this repository with the pinned packages (and constraints.txt for
# every transitive one), re-installing only when the requirement files change.
#
# In an unpacked release (./install.sh release: a wheelhouse/ folder beside this one) nothing
# is fetched: the controller's own OS packages that are missing (python3, python3-venv, the SSH
# client, gpg) come from the archive's controller/<os>/ folder through apt with that folder as
# its only source, and the Python packages from wheelhouse/ with pip --no-index.

# The release's controller package folder for this host (controller/debian12 ...), or nothing.
_release_os() {
  local id="" version=""
  [ -r /etc/os-release ] || return 0
  # shellcheck disable=SC1091
  id=$(. /etc/os-release && echo "${ID:-}") version=$(. /etc/os-release && echo "${VERSION_ID:-}")
  version=${version%%.*}
  echo "$id$version"
}

# Install the named packages from the release's own apt source, and from nothing else: the
# host's sources, lists and package cache are left as they are.
_release_apt() {
  local top="$1" os dir tmp sudo=()
  shift
  os=$(_release_os)
  dir="$top/controller/$os"
  if [ ! -f "$dir/Packages" ]; then
    echo "install: this host ($os) lacks $*, and the release has no controller packages for it" \
         "(it has: $(ls "$top/controller" 2>/dev/null | tr '\n' ' '))" >&2
    return 2
  fi
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "install: this host lacks $*, which the release brings, and installing them needs root:" \
           "run \`sudo -v\` and then this again (or give this user sudo)" >&2
      return 2
    fi
  fi
  tmp=$(mktemp -d) || return 1
  mkdir -p "$tmp/lists/partial" "$tmp/parts" || return 1
  echo "deb [trusted=yes] file:${dir// /%20} ./" > "$tmp/sources.list"
  # Read before anything of /etc/apt (APT_CONFIG): no apt.conf.d either, so no proxy, no hook
  # (apt-listbugs asks bugs.debian.org) and no other source takes part.
  cat > "$tmp/apt.conf" <<CONF
Dir::Etc::Parts "$tmp/parts";
Dir::Etc::SourceList "$tmp/sources.list";
Dir::Etc::SourceParts "$tmp/parts";
Dir::State::Lists "$tmp/lists";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::Sandbox::User "root";
CONF
  echo "[setup] installing $* from the release (controller/$os, no network used)" >&2
  if ! "${sudo[@]}" env APT_CONFIG="$tmp/apt.conf" DEBIAN_FRONTEND=noninteractive apt-get -q update \
       >"$tmp/log" 2>&1 ||
     ! "${sudo[@]}" env APT_CONFIG="$tmp/apt.conf" DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
       --no-install-recommends "$@" >>"$tmp/log" 2>&1; then
    tail -20 "$tmp/log" >&2
    echo "install: installing $* from controller/$os failed (above)" >&2
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$tmp"
}

# What a release's installer host must have before the virtual environment can be made.
_release_controller_ready() {
  local py="$1" top="$2" missing=()
  if ! command -v "$py" >/dev/null; then
    missing+=(python3 python3-venv)
  elif [ ! -x "$top/.venv/bin/python" ] && ! "$py" -c 'import ensurepip' 2>/dev/null; then
    # Debian's python3 makes no virtual environment without python3-venv (ensurepip).
    missing+=(python3-venv)
  fi
  command -v ssh >/dev/null || missing+=(openssh-client)
  command -v gpg >/dev/null || missing+=(gnupg)
  [ ${#missing[@]} = 0 ] || _release_apt "$top" "${missing[@]}"
}

ensure_venv() {
  local top req stamp hash py offline=""
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  req="$top/$1"
  py="${DCOS_PYTHON:-python3}"
  [ -d "$top/wheelhouse" ] && offline=1
  hash=$(cat "$req" "$top/requirements.txt" "$top/constraints.txt" | sha256sum | cut -c1-16)
  stamp="$top/.venv/.installed-$(basename "$req" .txt)-$hash"
  # A venv left without pip (made before python3-venv was there, or interrupted) is made again.
  if [ ! -f "$stamp" ] && [ -x "$top/.venv/bin/python" ] && ! "$top/.venv/bin/python" -m pip --version >/dev/null 2>&1
  then
    rm -rf "$top/.venv"
  fi
  if [ -n "$offline" ]; then
    _release_controller_ready "$py" "$top" || return $?
  fi
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
    if [ -n "$offline" ]; then
      echo "[setup] installing pinned Python packages from the release's wheelhouse into .venv (no network used)" >&2
      # --isolated: no pip.conf and no PIP_* variable (a find-links or constraint URL there would
      # be tried): the wheelhouse only.
      PIP_CONFIG_FILE=/dev/null "$top/.venv/bin/python" -m pip install --isolated -q --disable-pip-version-check \
        --no-index \
        --find-links "$top/wheelhouse" -r "$req" -c "$top/constraints.txt" >&2 || {
        echo "install: the wheelhouse lacks a package of $(basename "$req") (above); only requirements.txt" \
             "is in a release" >&2
        return 1
      }
    else
      echo "[setup] installing pinned Python packages from $(basename "$req") into .venv" >&2
      "$top/.venv/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$req" -c "$top/constraints.txt" >&2 || return 1
    fi
    rm -f "$top/.venv/.installed-$(basename "$req" .txt)-"*
    touch "$stamp"
  fi
  export PATH="$top/.venv/bin:$PATH"
  export ANSIBLE_CONFIG="$top/ansible.cfg"
}
