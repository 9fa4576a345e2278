#!/usr/bin/env bash
# Build the test-bed node image locally: a debootstrap'ed Debian (minbase) with systemd,
# python3, sudo, openssh-server, iproute2 and procps, imported with `docker import`.
#
#   demo/node/build-image.sh [bookworm|bullseye]    Debian 12 (the default) or Debian 11
# Containers must be run with --stop-signal SIGRTMIN+3 (docker import takes no STOPSIGNAL).
# No image is ever pulled. The image is tagged with a hash of this recipe and rebuilt only
# when the recipe changes; `dcos-testbed/node:<suite>` always names the current build.
#
# Environment: DCOS_TESTBED_MIRROR  Debian mirror URL (default: the host's own apt source)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

SUITE=${1:-bookworm}
case "$SUITE" in
  bookworm|bullseye) ;;
  *) die "unknown suite $SUITE: bookworm (Debian 12) or bullseye (Debian 11)" ;;
esac
REPO=dcos-testbed/node
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,openssh-server,iproute2,procps,ca-certificates,gnupg
# The recipe is this script and the helpers it sources: any edit gives a new tag.
recipe_hash=$(cat "$0" "$here/lib.sh" | sha256sum | cut -c1-12)
tag="$REPO:$SUITE-$recipe_hash"
alias_tag="$REPO:$SUITE"

if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" "$alias_tag"
  say "image $tag is current (recipe unchanged), not rebuilding"
  exit 0
fi

host_mirror() {
  # First Debian archive URI configured on this host, deb822 or one-line format.
  local uri
  uri=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -v -- '-security' | head -n 1 || true)
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $3 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
  fi
  printf '%s' "$uri"
}
mirror="${DCOS_TESTBED_MIRROR:-$(host_mirror)}"
[ -n "$mirror" ] || die "no Debian mirror found in this host's apt sources; set DCOS_TESTBED_MIRROR"

if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi

as_root mkdir -p "$TESTBED_STATE"
root=$(as_root mktemp -d "$TESTBED_STATE/rootfs.XXXXXX")
trap 'as_root rm -rf "$root"' EXIT
say "debootstrap $SUITE from $mirror (about a minute)"
start=$(date +%s)
as_root debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" \
  >"$TESTBED_STATE/debootstrap.log" 2>&1 \
  || { tail -n 20 "$TESTBED_STATE/debootstrap.log" >&2; die "debootstrap failed"; }

# Make the tree a well-behaved systemd container.
as_root chroot "$root" /bin/sh -eu <<CHROOT
cat > /etc/apt/sources.list <<SOURCES
deb $mirror $SUITE main
deb $mirror $SUITE-updates main
SOURCES
# Package lists left in an image make an offline apt retry DNS for minutes: ship none.
# What Debian's own container images do: no translation indexes (half of every apt-get
# update's download and parsing: tests refresh lists in many containers at once), and dpkg
# without an fsync per file (a test container is not kept across a crash).
echo 'Acquire::Languages "none";' > /etc/apt/apt.conf.d/99dcos-testbed
echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/dcos-testbed-unsafe-io
apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/*.log /var/cache/debconf/*-old
# Every container gets its own machine-id and SSH host keys at first boot.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id /etc/ssh/ssh_host_*
cat > /etc/systemd/system/ssh-hostkeys.service <<UNIT
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/ssh-hostkeys.service /etc/systemd/system/multi-user.target.wants/ssh-hostkeys.service
# Units that have nothing to do in a container.
for unit in getty@tty1.service console-getty.service systemd-udevd.service \
            systemd-udev-trigger.service systemd-remount-fs.service \
            sys-kernel-debug.mount sys-kernel-tracing.mount dev-hugepages.mount \
            systemd-firstboot.service; do
  ln -sf /dev/null /etc/systemd/system/\$unit
done
# The unprivileged operator account the SSH tests log in as (key injected at run time).
useradd --create-home --shell /bin/bash --uid 1000 dcos
echo 'dcos ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/dcos
chmod 0440 /etc/sudoers.d/dcos
CHROOT

say "importing the tree as $tag"
as_root tar -C "$root" --numeric-owner -c . | docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  --change "LABEL dcos-testbed.recipe=$recipe_hash" \
  - "$tag" >/dev/null
docker tag "$tag" "$alias_tag"
# Drop builds of older recipes of this suite (never the other suite's image: tests may be
# running containers of it).
docker images --format '{{.Repository}}:{{.Tag}}' "$REPO" | grep "^$REPO:$SUITE-" \
  | grep -v -e "^$tag\$" | xargs -r docker rmi >/dev/null 2>&1 || true
say "built $tag in $(( $(date +%s) - start )) s"
