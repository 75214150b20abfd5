# root@esclavo2: settings of a hot standby, then stop it to replace its data directory.
conf="$CONFDIR/postgresql.conf"
set_conf "$conf" hot_standby on
set_conf "$conf" max_wal_senders 10
/etc/init.d/postgresql stop
