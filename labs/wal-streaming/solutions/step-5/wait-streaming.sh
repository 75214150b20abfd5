# postgres@esclavo: wait until the rows arrived and the wal receiver streams.
for i in $(seq 1 50); do
  n=$(psql -qAt -c "select count(*) from prueba_replicacion" 2>/dev/null || echo 0)
  if [ "${n:-0}" -ge 3 ] && ps -eo args | grep -qE 'wal ?receiver.*streaming'; then exit 0; fi
  sleep 1
done
echo "replication did not catch up" >&2; exit 1
