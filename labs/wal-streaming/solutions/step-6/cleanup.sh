# postgres on the new maestro: the cleanup the tutorial asks for.
rm -rf "$ARCHIVE"
rm -f "$DATADIR/recovery.done"
