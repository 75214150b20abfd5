# postgres@maestro: rewind to esclavo's timeline when the cluster allows it, else a fresh base backup.
# pg_rewind needs the target to have logged hint bits (wal_log_hints = on, or data checksums) while it
# ran: pg_controldata shows what the stopped cluster had.
control=$("$BINDIR/pg_controldata" "$DATADIR")
if [ -n "$CAP_PG_REWIND" ] && echo "$control" | grep -Eq '^wal_log_hints setting: +on|^Data page checksum version: +[1-9]'; then
  "$BINDIR/pg_rewind" --target-pgdata="$DATADIR" --source-server="host=$ESCLAVO_IP user=postgres dbname=postgres"
else
  echo "pg_rewind not possible here (no wal_log_hints / checksums, or 9.1): base backup from esclavo"
  base_backup "$ESCLAVO_IP"
fi
standby_conf "$ESCLAVO_IP"
