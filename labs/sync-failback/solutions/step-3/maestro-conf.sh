# root@maestro: once primary it will want esclavo as its synchronous standby (ignored while in recovery).
set_conf "$CONFDIR/postgresql.conf" synchronous_standby_names "'esclavo'"
/etc/init.d/postgresql reload
