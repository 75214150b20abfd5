# root@esclavo: clean (fast) shutdown: the wal sender hands maestro everything, up to the shutdown
# checkpoint. Prints where esclavo's WAL ends, for the next action.
/etc/init.d/postgresql stop >&2
su postgres -c "$BINDIR/pg_controldata $DATADIR" | sed -n 's/^Latest checkpoint location: *//p'
