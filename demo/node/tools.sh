#!/usr/bin/env bash
# Host tools the tests need besides Docker: gpg (repository signing), dpkg-deb (test packages),
# debootstrap (the base image). Installed from Debian's packages when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
missing=()
command -v gpg >/dev/null 2>&1 || missing+=(gnupg)
command -v gpgv >/dev/null 2>&1 || missing+=(gpgv)
command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
