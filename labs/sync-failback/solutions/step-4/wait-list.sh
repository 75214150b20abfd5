# postgres@maestro: esclavo synchronous, esclavo2 ready to take over.
states() { [ "$(q "select string_agg(sync_state, ',' order by sync_state) from pg_stat_replication where host(client_addr) in ('$ESCLAVO_IP', '$ESCLAVO2_IP')")" = potential,sync ]; }
wait_for 60 "esclavo and esclavo2 are not sync + potential" states
