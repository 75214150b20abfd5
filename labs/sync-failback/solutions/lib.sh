# Prepended to every sync-failback reference solution, after labs/lib.sh (set -e, set_conf, wait_for).
# Variables come from `lab solve`: this env's
# facts (MAESTRO_IP ESCLAVO_IP ESCLAVO2_IP CONFDIR DATADIR BINDIR LOGFILE…) and what this PostgreSQL
# version can do (src/pg/profile.ts): CAP_RECOVERY_CONF (recovery.conf, else standby.signal + GUCs),
# CAP_PG_REWIND, CAP_SYNC_FIRST_ANY (FIRST/ANY lists), CAP_BASEBACKUP_WAL_METHOD (-X fetch, else -x),
# CAP_WAL_KEEP_SETTING/VALUE, CAP_REPLAY_LSN_FUNCTION. Scripts never test $PG.

# q SQL: one value from the local server, as postgres (root scripts go through su).
q() {
  if [ "$(id -u)" = 0 ]; then su postgres -c "psql -X -qAt -c \"$1\"" 2>/dev/null; else psql -X -qAt -c "$1" 2>/dev/null; fi
}
in_recovery() { [ "$(q 'select pg_is_in_recovery()')" = "$1" ]; }

# A replication rule for one standby's address in pg_hba.conf (root), once.
allow_replication() {
  local line="host    replication   postgres       $1/32       trust"
  grep -qxF "$line" "$CONFDIR/pg_hba.conf" || printf '%s\n' "$line" >> "$CONFDIR/pg_hba.conf"
}

# standby_conf PRIMARY_IP [APP_NAME] (postgres, server stopped): where the standby streams from.
standby_conf() {
  local conninfo="host=$1 port=5432 user=postgres${2:+ application_name=$2}"
  if [ -n "$CAP_RECOVERY_CONF" ]; then
    cat > "$DATADIR/recovery.conf" <<EOC
standby_mode = 'on'
primary_conninfo = '$conninfo'
recovery_target_timeline = 'latest'
EOC
  else
    set_conf "$CONFDIR/postgresql.conf" primary_conninfo "'$conninfo'"
    set_conf "$CONFDIR/postgresql.conf" recovery_target_timeline "'latest'"
    touch "$DATADIR/standby.signal"
  fi
}

# base_backup PRIMARY_IP (postgres, server stopped): the data directory replaced by a fresh base backup.
base_backup() {
  find "$DATADIR" -mindepth 1 -delete
  if [ -n "$CAP_BASEBACKUP_WAL_METHOD" ]; then
    "$BINDIR/pg_basebackup" -h "$1" -U postgres -D "$DATADIR" -X fetch -c fast
  else
    "$BINDIR/pg_basebackup" -h "$1" -U postgres -D "$DATADIR" -x -c fast
  fi
}

# lsn_ge A B: LSN text A (X/Y) is at or after B.
lsn_ge() {
  local a_hi=$((16#${1%/*})) a_lo=$((16#${1#*/})) b_hi=$((16#${2%/*})) b_lo=$((16#${2#*/}))
  [ "$a_hi" -gt "$b_hi" ] || { [ "$a_hi" -eq "$b_hi" ] && [ "$a_lo" -ge "$b_lo" ]; }
}
