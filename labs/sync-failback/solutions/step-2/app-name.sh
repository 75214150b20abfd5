# postgres@maestro: the standby names itself in primary_conninfo.
standby_conf "$ESCLAVO_IP" maestro
