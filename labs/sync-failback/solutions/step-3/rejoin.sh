# postgres@esclavo: a standby of maestro again. 9.1 cannot follow a new timeline by streaming (it
# needs the new timeline's history file and WAL from an archive): a fresh base backup there. 9.5+
# with wal_log_hints (step 1) or checksums: pg_rewind proves esclavo has nothing maestro lacks
# ("no rewind required") or rewinds what it has; without them it could not tell, and it refuses.
if [ -n "$CAP_RECOVERY_CONF" ]; then
  base_backup "$MAESTRO_IP"
elif [ -n "$CAP_PG_REWIND" ] && "$BINDIR/pg_controldata" "$DATADIR" | grep -Eq '^wal_log_hints setting: +on|^Data page checksum version: +[1-9]'; then
  "$BINDIR/pg_rewind" --target-pgdata="$DATADIR" --source-server="host=$MAESTRO_IP user=postgres dbname=postgres"
fi
standby_conf "$MAESTRO_IP" esclavo
