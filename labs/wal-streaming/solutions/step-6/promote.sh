# postgres@esclavo: promote (trigger file on 9.1/13/15; 17 has no trigger file: pg_ctl promote).
if [ "$PG" = "17" ]; then
  "$BINDIR/pg_ctl" promote -D "$DATADIR"
else
  touch "$TRIGGER"
fi
for i in $(seq 1 60); do
  [ "$(psql -qAt -c 'select pg_is_in_recovery()')" = f ] && exit 0
  sleep 1
done
echo "esclavo was not promoted" >&2; exit 1
