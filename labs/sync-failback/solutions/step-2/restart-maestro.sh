# root@maestro: restart so the wal receiver reconnects with its name.
/etc/init.d/postgresql restart
wait_for 60 "maestro did not open as a standby" in_recovery t
