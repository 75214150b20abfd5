# root@maestro: it will be a standby; its archive destination (esclavo's wal_archive) is gone.
conf="$CONFDIR/postgresql.conf"
set_conf "$conf" hot_standby on
set_conf "$conf" max_wal_senders 10
set_conf "$conf" archive_mode off
[ -z "$CAP_PG_REWIND" ] || set_conf "$conf" wal_log_hints on
/etc/init.d/postgresql stop
