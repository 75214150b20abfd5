# root, on each server: keep the original config files, install ssh + rsync (offline cache), start sshd.
for f in postgresql.conf pg_hba.conf; do
  [ -e "$CONFDIR/$f.orig" ] || cp -p "$CONFDIR/$f" "$CONFDIR/$f.orig"
done
apt-get install -y openssh-server openssh-client rsync >/dev/null
/etc/init.d/ssh start >/dev/null
