/etc/init.d/postgresql start
# Wait until the standby answers read-only queries.
for i in $(seq 1 60); do
  [ "$(su postgres -c "psql -qAt -c 'select pg_is_in_recovery()'" 2>/dev/null)" = t ] && exit 0
  sleep 1
done
echo "esclavo did not open for read-only queries" >&2; exit 1
