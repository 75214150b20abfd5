# root@maestro: start it as a standby and wait until it answers read-only queries.
/etc/init.d/postgresql start
wait_for 60 "maestro did not open as a standby" in_recovery t
