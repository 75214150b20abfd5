#!/bin/sh
# dind node entrypoint (test only): cgroups remounted read-write (the container has every capability
# but CAP_SYS_RESOURCE, which privileged mode would need here), then dockerd with TLS on 2376 and
# its unix socket for the test's own `docker exec node docker …`.
set -e
# Per-mount flags only (bind remount): a plain remount of a hierarchy says "mount point is busy".
for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
  [ -d "$d" ] && ! [ -L "$d" ] && mount -o remount,bind,rw "$d" 2>/dev/null || true
done
mkdir -p /var/run
exec dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2376 \
  --tlsverify --tlscacert=/certs/ca.pem --tlscert=/certs/server-cert.pem --tlskey=/certs/server-key.pem \
  --iptables=true "$@"
