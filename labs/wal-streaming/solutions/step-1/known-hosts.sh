# postgres@maestro: trust esclavo's host key, then prove a batch (no password) login works.
ssh-keyscan -T 5 "$ESCLAVO_IP" 2>/dev/null >> ~/.ssh/known_hosts
ssh -o BatchMode=yes "postgres@$ESCLAVO_IP" hostname
