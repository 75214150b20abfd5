# postgres@esclavo: wait until maestro is the synchronous standby.
is_sync() { [ "$(q "select sync_state from pg_stat_replication where host(client_addr) = '$MAESTRO_IP'")" = sync ]; }
wait_for 60 "maestro is not a synchronous standby" is_sync
