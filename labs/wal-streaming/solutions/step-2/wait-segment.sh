# postgres@maestro: instead of waiting for archive_timeout, write WAL and switch segments until one is archived.
segment_arrived() {
  ssh -o BatchMode=yes "postgres@$ESCLAVO_IP" "ls $ARCHIVE" 2>/dev/null | grep -qE '^[0-9A-F]{24}$' && return 0
  psql -qAt -c "select txid_current();" >/dev/null
  psql -qAt -c "select $SWITCH_WAL();" >/dev/null
  return 1
}
wait_for 80 "no WAL segment reached $ARCHIVE" segment_arrived
