# postgres@maestro: promote only once it replayed esclavo's last record (nothing lost), then check.
caught_up() { lsn_ge "$(q "select $CAP_REPLAY_LSN_FUNCTION()")" "$ESCLAVO_END"; }
wait_for 60 "maestro did not replay esclavo's WAL up to $ESCLAVO_END" caught_up
"$BINDIR/pg_ctl" promote -D "$DATADIR"
wait_for 60 "maestro was not promoted" in_recovery f
