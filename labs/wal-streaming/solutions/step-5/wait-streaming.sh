# postgres@esclavo: wait until the rows arrived and the wal receiver streams.
caught_up() {
  local n
  n=$(psql -qAt -c "select count(*) from prueba_replicacion" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 3 ] || return 1
  ps -eo args | grep -qE 'wal ?receiver.*streaming' && return 0
  # Under qemu-user (arm64 on an amd64 host) process titles are not visible: ask the server.
  local f
  for f in pg_last_wal_receive_lsn pg_last_xlog_receive_location; do  # 10+ / 9.x
    [ "$(psql -qAt -c "select $f() is not null" 2>/dev/null)" = t ] && return 0
  done
  return 1
}
wait_for 50 "replication did not catch up" caught_up
