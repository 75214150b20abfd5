# root@esclavo: commits wait for the standby that calls itself "maestro".
set_conf "$CONFDIR/postgresql.conf" synchronous_standby_names "'maestro'"
/etc/init.d/postgresql reload
