# postgres@esclavo: wait until the rows arrived and the wal receiver streams.
caught_up() {
  local n
  n=$(psql -qAt -c "select count(*) from prueba_replicacion" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 3 ] && ps -eo args | grep -qE 'wal ?receiver.*streaming'
}
wait_for 50 "replication did not catch up" caught_up
