# postgres@maestro: instead of waiting for archive_timeout, write WAL and switch segments until one is archived.
for i in $(seq 1 40); do
  if ssh -o BatchMode=yes "postgres@$ESCLAVO_IP" "ls $ARCHIVE" 2>/dev/null | grep -qE '^[0-9A-F]{24}$'; then exit 0; fi
  psql -qAt -c "select txid_current();" >/dev/null
  psql -qAt -c "select $SWITCH_WAL();" >/dev/null
  sleep 2
done
echo "no WAL segment reached $ARCHIVE" >&2; exit 1
