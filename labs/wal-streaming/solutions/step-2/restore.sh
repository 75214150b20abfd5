# postgres@esclavo: replace the data directory with maestro's base backup, then clean up.
cd ~
if [ -f ~/base_backup.tar.gz ]; then
  rm -rf ~/base_backup && mkdir -p ~/base_backup && cd ~/base_backup
  tar -xzf ~/base_backup.tar.gz
  rsync -a ~/base_backup"$DATADIR"/ "$DATADIR"/ || [ $? -eq 23 ]
  rm -f "$DATADIR/postmaster.pid"
  cd ~ && rm -r ~/base_backup/ && rm ~/base_backup.tar.gz
else
  find "$DATADIR" -mindepth 1 -delete
  tar -xzf ~/base.tar.gz -C "$DATADIR"
  rm ~/base.tar.gz
fi
