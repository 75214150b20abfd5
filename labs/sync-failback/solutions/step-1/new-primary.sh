# root@esclavo (the primary since wal-streaming's promotion): accept replication from maestro.
conf="$CONFDIR/postgresql.conf"
set_conf "$conf" listen_addresses "'*'"
# The same value on every server: from 12 on, a standby refuses to start with fewer than its primary.
set_conf "$conf" max_wal_senders 10
set_conf "$conf" "$CAP_WAL_KEEP_SETTING" "$CAP_WAL_KEEP_VALUE"
[ -z "$CAP_PG_REWIND" ] || set_conf "$conf" wal_log_hints on
allow_replication "$MAESTRO_IP"
/etc/init.d/postgresql restart
