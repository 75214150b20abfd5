# root@maestro: the tutorial's settings (modern equivalents on 13+), then restart.
conf="$CONFDIR/postgresql.conf"
set_conf "$conf" listen_addresses "'*'"
set_conf "$conf" wal_level hot_standby
set_conf "$conf" max_wal_senders 3
if legacy; then
  set_conf "$conf" checkpoint_segments 8
  set_conf "$conf" wal_keep_segments 8
else
  set_conf "$conf" wal_keep_size 128MB
fi
set_conf "$conf" archive_mode on
set_conf "$conf" archive_command "'rsync -av %p postgres@$ESCLAVO_IP:$ARCHIVE/%f'"
set_conf "$conf" archive_timeout 60
/etc/init.d/postgresql restart
