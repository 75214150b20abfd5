# Prepended to every wal-streaming reference solution, after labs/lib.sh (set -e, set_conf, wait_for).
# Variables come from `lab solve`: this env's facts
# (MAESTRO_IP ESCLAVO_IP CONFDIR DATADIR BINDIR WALDIR ARCHIVE TRIGGER LOGFILE SWITCH_WAL…) and what
# this PostgreSQL version can do (CAP_RECOVERY_CONF CAP_EXCLUSIVE_BACKUP CAP_TRIGGER_SETTING
# CAP_WAL_KEEP_SETTING/VALUE CAP_CHECKPOINT_SETTING/VALUE, src/pg/profile.ts). Scripts never test $PG.
