# root@maestro: once primary it will want esclavo as its synchronous standby (ignored while in
# recovery); and an ordinary connection from esclavo, for pg_rewind --source-server.
set_conf "$CONFDIR/postgresql.conf" synchronous_standby_names "'esclavo'"
line="host    all           postgres       $ESCLAVO_IP/32       trust"
grep -qxF "$line" "$CONFDIR/pg_hba.conf" || printf '%s\n' "$line" >> "$CONFDIR/pg_hba.conf"
/etc/init.d/postgresql reload
