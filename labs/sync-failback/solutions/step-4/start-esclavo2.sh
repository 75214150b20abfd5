/etc/init.d/postgresql start
wait_for 60 "esclavo2 did not open as a standby" in_recovery t
