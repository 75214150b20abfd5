# root@maestro: the tutorial's settings (modern equivalents on 13+), then restart.
conf="$CONFDIR/postgresql.conf"
set_conf "$conf" listen_addresses "'*'"
set_conf "$conf" wal_level hot_standby
set_conf "$conf" max_wal_senders 3
# 9.1: checkpoint_segments and wal_keep_segments = 8; later versions: wal_keep_size 128MB (8 × 16 MB).
if [ -n "$CAP_CHECKPOINT_SETTING" ]; then set_conf "$conf" "$CAP_CHECKPOINT_SETTING" "$CAP_CHECKPOINT_VALUE"; fi
set_conf "$conf" "$CAP_WAL_KEEP_SETTING" "$CAP_WAL_KEEP_VALUE"
set_conf "$conf" archive_mode on
set_conf "$conf" archive_command "'rsync -av %p postgres@$ESCLAVO_IP:$ARCHIVE/%f'"
set_conf "$conf" archive_timeout 60
/etc/init.d/postgresql restart
