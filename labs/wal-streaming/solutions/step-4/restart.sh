/etc/init.d/postgresql restart
