#!/usr/bin/env bash
# Builds a minimal Debian base image without any container registry:
# debootstrap a suite into a temporary folder, then `tar | docker import`.
# Usage: make-base.sh SUITE TAG [MIRROR]
# Called by `lab` (src/docker/images.ts) when the base image is missing; prints progress lines.
set -euo pipefail
suite="$1"; tag="$2"; mirror="${3:-http://deb.debian.org/debian}"
recipe_hash="${PGLAB_BASE_HASH:-none}"

command -v debootstrap >/dev/null || { echo "PGLAB_ERROR missing-debootstrap" >&2; exit 3; }
[ "$(id -u)" = 0 ] || { echo "PGLAB_ERROR not-root" >&2; exit 4; }

root="$(mktemp -d /tmp/pglab-base-"$suite".XXXXXX)"
trap 'rm -rf "$root"' EXIT

echo "PGLAB_PROGRESS debootstrap $suite from $mirror"
# minbase: apt + dpkg + coreutils only; the PostgreSQL layer is added by docker/pg/Dockerfile.
debootstrap --variant=minbase --include=ca-certificates "$suite" "$root" "$mirror" \
  | while read -r line; do case "$line" in I:\ Retrieving*|I:\ Validating*) ;; *) echo "PGLAB_PROGRESS $line";; esac; done
[ -x "$root/bin/sh" ] || { echo "PGLAB_ERROR debootstrap-failed" >&2; exit 5; }

# Keep downloaded .debs in later layers (the image must install ssh/rsync offline).
rm -f "$root/etc/apt/apt.conf.d/docker-clean"
echo "deb $mirror $suite main" > "$root/etc/apt/sources.list"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

echo "PGLAB_PROGRESS docker import $tag"
tar -C "$root" -c . | docker import \
  --change 'CMD ["/bin/bash"]' \
  --change "LABEL pglab.base.suite=$suite pglab.base.recipe=$recipe_hash" \
  - "$tag" >/dev/null
echo "PGLAB_PROGRESS done $tag"
