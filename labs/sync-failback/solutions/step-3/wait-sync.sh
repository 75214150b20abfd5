# postgres@maestro: esclavo is maestro's synchronous standby.
is_sync() { [ "$(q "select sync_state from pg_stat_replication where host(client_addr) = '$ESCLAVO_IP'")" = sync ]; }
wait_for 60 "esclavo is not maestro's synchronous standby" is_sync
