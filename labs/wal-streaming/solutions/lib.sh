# Prepended to every reference solution script. Variables come from `lab solve` (this env's facts):
# PG MAESTRO_IP ESCLAVO_IP CONFDIR DATADIR BINDIR WALDIR ARCHIVE TRIGGER LOGFILE SWITCH_WAL
set -euo pipefail

# set_conf FILE KEY VALUE: comment out active lines for KEY and append `KEY = VALUE` (same effect as editing with nano).
set_conf() {
  local file="$1" key="$2" value="$3"
  sed -i -E "s/^([[:space:]]*${key}[[:space:]]*=)/# (pglab) \1/" "$file"
  printf '%s = %s\n' "$key" "$value" >> "$file"
}

legacy() { [ "$PG" = "9.1" ]; }
# 9.1 and 13 still have exclusive two-call backups; 15+ do not.
exclusive_backup() { [ "$PG" = "9.1" ] || [ "$PG" = "13" ]; }
