/etc/init.d/postgresql stop
