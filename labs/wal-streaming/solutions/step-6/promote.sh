# postgres@esclavo: promote with the trigger file where the version has one (9.1–15), else pg_ctl promote.
if [ -n "$CAP_TRIGGER_SETTING" ]; then
  touch "$TRIGGER"
else
  "$BINDIR/pg_ctl" promote -D "$DATADIR"
fi
promoted() { [ "$(psql -qAt -c 'select pg_is_in_recovery()')" = f ]; }
wait_for 60 "esclavo was not promoted" promoted
