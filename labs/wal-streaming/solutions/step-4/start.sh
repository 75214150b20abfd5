/etc/init.d/postgresql start
# Wait until the standby answers read-only queries.
reads_open() { [ "$(su postgres -c "psql -qAt -c 'select pg_is_in_recovery()'" 2>/dev/null)" = t ]; }
wait_for 60 "esclavo did not open for read-only queries" reads_open
