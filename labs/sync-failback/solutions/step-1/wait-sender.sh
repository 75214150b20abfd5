# postgres@esclavo: wait for maestro's wal sender to stream.
streaming() { [ "$(q "select count(*) from pg_stat_replication where host(client_addr) = '$MAESTRO_IP' and state = 'streaming'")" = 1 ]; }
wait_for 60 "maestro does not stream from esclavo" streaming
