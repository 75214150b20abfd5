# root@maestro: listen on its own IP, let esclavo replicate; reload so the hba rule can be tested now.
set_conf "$CONFDIR/postgresql.conf" listen_addresses "'$MAESTRO_IP, localhost'"
line="host    replication   postgres       $ESCLAVO_IP/32       trust"
grep -qxF "$line" "$CONFDIR/pg_hba.conf" || printf '%s\n' "$line" >> "$CONFDIR/pg_hba.conf"
/etc/init.d/postgresql reload
