# root@esclavo2: settings of a hot standby (9.1 refuses max_wal_senders > 0 without wal_level
# hot_standby, even on a standby), then stop it to replace its data directory.
conf="$CONFDIR/postgresql.conf"
set_conf "$conf" wal_level hot_standby
set_conf "$conf" hot_standby on
set_conf "$conf" max_wal_senders 10
/etc/init.d/postgresql stop
