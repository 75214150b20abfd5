# postgres@esclavo: a standby of maestro again. 9.3+ follow the new timeline by streaming; 9.1 cannot
# (it needs the new timeline's history file and WAL from an archive): a fresh base backup there.
if [ -n "$CAP_RECOVERY_CONF" ]; then
  base_backup "$MAESTRO_IP"
fi
standby_conf "$MAESTRO_IP" esclavo
