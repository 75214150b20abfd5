# Prepended to every reference solution script. Variables come from `lab solve`: this env's facts
# (MAESTRO_IP ESCLAVO_IP CONFDIR DATADIR BINDIR WALDIR ARCHIVE TRIGGER LOGFILE SWITCH_WAL…) and what
# this PostgreSQL version can do (CAP_RECOVERY_CONF CAP_EXCLUSIVE_BACKUP CAP_TRIGGER_SETTING
# CAP_WAL_KEEP_SETTING/VALUE CAP_CHECKPOINT_SETTING/VALUE, src/pg/profile.ts). Scripts never test $PG.
set -euo pipefail

# set_conf FILE KEY VALUE: comment out active lines for KEY and append `KEY = VALUE` (same effect as editing with nano).
set_conf() {
  local file="$1" key="$2" value="$3"
  sed -i -E "s/^([[:space:]]*${key}[[:space:]]*=)/# (pglab) \1/" "$file"
  printf '%s = %s\n' "$key" "$value" >> "$file"
}

# wait_for SECONDS WHAT CMD...: runs CMD every second until it succeeds; fails saying WHAT after
# SECONDS × $TIMEOUT_SCALE (slow machines set PGLAB_TIMEOUT_SCALE, like every wait in lab).
wait_for() {
  local seconds="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + seconds * ${TIMEOUT_SCALE:-1} ))
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "$what" >&2; return 1; fi
    sleep 1
  done
}
