#!/usr/bin/env bash
# Builds a minimal Debian base image without any container registry:
# debootstrap a suite into a temporary folder, then `tar | docker import`.
# Usage: make-base.sh SUITE TAG [MIRROR [ARCH]]
# ARCH (Debian's name: amd64, arm64) other than the host's: debootstrap's second stage runs its
# maintainer scripts under qemu-user (binfmt_misc), and the image is imported for linux/ARCH.
# Called by `lab` (src/docker/images.ts) when the base image is missing; prints progress lines.
set -euo pipefail
suite="$1"; tag="$2"; mirror="${3:-http://deb.debian.org/debian}"; arch="${4:-}"
recipe_hash="${PGLAB_BASE_HASH:-none}"

command -v debootstrap >/dev/null || { echo "PGLAB_ERROR missing-debootstrap" >&2; exit 3; }
[ "$(id -u)" = 0 ] || { echo "PGLAB_ERROR not-root" >&2; exit 4; }
arch_args=()
if [ -n "$arch" ]; then
  arch_args=(--arch "$arch")
  host_arch="$(dpkg --print-architecture 2>/dev/null || uname -m)"
  if [ "$arch" != "$host_arch" ]; then
    # A foreign architecture runs only through a binfmt_misc handler (qemu-user-static): say so up front.
    case "$arch" in arm64) qemu=aarch64;; amd64) qemu=x86_64;; *) qemu="$arch";; esac
    [ -e "/proc/sys/fs/binfmt_misc/qemu-$qemu" ] && grep -q '^enabled' "/proc/sys/fs/binfmt_misc/qemu-$qemu" \
      || { echo "PGLAB_ERROR no-emulation qemu-$qemu" >&2; exit 6; }
  fi
fi

root="$(mktemp -d /tmp/pglab-base-"$suite".XXXXXX)"
trap 'rm -rf "$root"' EXIT

echo "PGLAB_PROGRESS debootstrap $suite${arch:+ ($arch)} from $mirror"
# minbase: apt + dpkg + coreutils only; the PostgreSQL layer is added by docker/pg/Dockerfile.
debootstrap --variant=minbase --include=ca-certificates "${arch_args[@]}" "$suite" "$root" "$mirror" \
  | while read -r line; do case "$line" in I:\ Retrieving*|I:\ Validating*) ;; *) echo "PGLAB_PROGRESS $line";; esac; done
[ -x "$root/bin/sh" ] || { echo "PGLAB_ERROR debootstrap-failed" >&2; exit 5; }

# Keep downloaded .debs in later layers (the image must install ssh/rsync offline).
rm -f "$root/etc/apt/apt.conf.d/docker-clean"
echo "deb $mirror $suite main" > "$root/etc/apt/sources.list"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

if [ -z "$arch" ]; then
  echo "PGLAB_PROGRESS docker import $tag"
  tar -C "$root" -c . | docker import \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL pglab.base.suite=$suite pglab.base.recipe=$recipe_hash" \
    - "$tag" >/dev/null
else
  # `docker import --platform` is ignored by older engines (20.10 records the host's architecture):
  # write a one-layer docker-archive whose config says linux/$arch and `docker load` it instead.
  echo "PGLAB_PROGRESS docker load $tag (linux/$arch)"
  img="$(mktemp -d /tmp/pglab-img.XXXXXX)"
  trap 'rm -rf "$root" "$img"' EXIT
  tar -C "$root" -cf "$img/layer.tar" .
  diff_id="$(sha256sum "$img/layer.tar" | cut -d' ' -f1)"
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '{"architecture":"%s","os":"linux","created":"%s","config":{"Cmd":["/bin/bash"],"Labels":{"pglab.base.suite":"%s","pglab.base.recipe":"%s"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"make-base.sh: debootstrap --arch %s %s"}]}' \
    "$arch" "$now" "$suite" "$recipe_hash" "$diff_id" "$now" "$arch" "$suite" > "$img/config.json"
  config="$(sha256sum "$img/config.json" | cut -d' ' -f1).json"
  mv "$img/config.json" "$img/$config"
  printf '[{"Config":"%s","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$config" "$tag" > "$img/manifest.json"
  tar -C "$img" -cf - manifest.json "$config" layer.tar | docker load >/dev/null
fi
echo "PGLAB_PROGRESS done $tag"
