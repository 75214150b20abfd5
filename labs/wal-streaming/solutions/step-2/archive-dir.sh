mkdir -p "$ARCHIVE"
