# root@maestro: let esclavo2 replicate, and list both standbys: esclavo first, esclavo2 takes over.
allow_replication "$ESCLAVO2_IP"
if [ -n "$CAP_SYNC_FIRST_ANY" ]; then
  set_conf "$CONFDIR/postgresql.conf" synchronous_standby_names "'FIRST 1 (esclavo, esclavo2)'"
else
  set_conf "$CONFDIR/postgresql.conf" synchronous_standby_names "'esclavo, esclavo2'"
fi
/etc/init.d/postgresql reload
