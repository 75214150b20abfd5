# postgres@esclavo: hot standby, and where to get WAL from (recovery.conf on 9.1, standby.signal + GUCs on 12+).
conf="$CONFDIR/postgresql.conf"
set_conf "$conf" wal_level hot_standby
set_conf "$conf" hot_standby on
if [ -n "$CAP_RECOVERY_CONF" ]; then
  cat > "$DATADIR/recovery.conf" <<EOC
standby_mode = 'on'
primary_conninfo = 'host=$MAESTRO_IP port=5432 user=postgres'
trigger_file = '$TRIGGER'
restore_command = 'cp $ARCHIVE/%f "%p"'
archive_cleanup_command = '$BINDIR/pg_archivecleanup $ARCHIVE %r'
EOC
else
  set_conf "$conf" primary_conninfo "'host=$MAESTRO_IP port=5432 user=postgres'"
  set_conf "$conf" restore_command "'cp $ARCHIVE/%f \"%p\"'"
  set_conf "$conf" archive_cleanup_command "'$BINDIR/pg_archivecleanup $ARCHIVE %r'"
  if [ "$CAP_TRIGGER_SETTING" = promote_trigger_file ]; then set_conf "$conf" promote_trigger_file "'$TRIGGER'"; fi
  touch "$DATADIR/standby.signal"
fi
