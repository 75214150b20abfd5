# postgres@esclavo2: a clone of maestro, streaming as "esclavo2".
base_backup "$MAESTRO_IP"
standby_conf "$MAESTRO_IP" esclavo2
