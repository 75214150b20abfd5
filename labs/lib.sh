# Shared by every lab's reference solutions: `lab solve` prepends this, then labs/<id>/solutions/lib.sh,
# to each script. Values come as variables (this env's facts and the version's CAP_* capabilities,
# src/lab/solve.ts), never spliced into the text.
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
