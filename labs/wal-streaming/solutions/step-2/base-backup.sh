# postgres@maestro: base backup, shipped to esclavo with rsync.
cd ~
rm -rf ~/base_backup ~/base_backup.tar.gz ~/base.tar.gz
if [ -n "$CAP_EXCLUSIVE_BACKUP" ]; then
  # psql 9.1 runs only the last -c: one call per psql.
  psql -c "select pg_start_backup('base_backup');"
  tar -czf base_backup.tar.gz "$DATADIR/" 2>/dev/null || [ $? -eq 1 ]   # 1 = "file changed as we read it"
  psql -c "select pg_stop_backup();"
  rsync -a base_backup.tar.gz "postgres@$ESCLAVO_IP:~/base_backup.tar.gz"
else
  # 15+: exclusive backups are gone; pg_basebackup does start/stop in one session.
  pg_basebackup -D ~/base_backup -Ft -z -X fetch -c fast -l base_backup
  rsync -a ~/base_backup/base.tar.gz "postgres@$ESCLAVO_IP:~/base.tar.gz"
  rm -rf ~/base_backup
fi
