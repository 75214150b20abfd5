/**
 * Files that prove a base backup and a promotion happened: the backup history file
 * (`<24 hex>.<8 hex>.backup` in the archive), `backup_label` (`backup_label.old` once the standby
 * started) and `<TLI>.history` written on promotion.
 */

export interface BackupInfo {
  startWalLocation?: string; startWalFile?: string; stopWalLocation?: string; checkpointLocation?: string;
  label?: string; startTime?: string; stopTime?: string;
}
export interface TimelineHistoryEntry { parentTli: number; switchLsn: string; reason: string; switchWalFile?: string }

/** `KEY: value` lines; the WAL location lines also carry `(file <segment>)`. */
function parseKeyValues(text: string): BackupInfo {
  const info: BackupInfo = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Z][A-Z ]*[A-Z]):\s?(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m;
    const loc = /^(\S+)\s+\(file ([0-9A-F]{24})\)$/.exec(value);
    switch (key) {
      case 'START WAL LOCATION':
        info.startWalLocation = loc ? loc[1] : value;
        if (loc) info.startWalFile = loc[2];
        break;
      case 'STOP WAL LOCATION': info.stopWalLocation = loc ? loc[1] : value; break;
      case 'CHECKPOINT LOCATION': info.checkpointLocation = value; break;
      case 'LABEL': info.label = value; break;
      case 'START TIME': info.startTime = value; break;
      case 'STOP TIME': info.stopTime = value; break;
    }
  }
  return info;
}

/** Backup history file, written by pg_stop_backup/pg_backup_stop into the archive. */
export function parseBackupHistory(text: string): BackupInfo {
  return parseKeyValues(text);
}

/** backup_label / backup_label.old: same lines as the history file, without the STOP ones. */
export function parseBackupLabel(text: string): Omit<BackupInfo, 'stopWalLocation' | 'stopTime'> {
  const { stopWalLocation: _s, stopTime: _t, ...rest } = parseKeyValues(text);
  return rest;
}

/**
 * `<parentTLI>\t<switch point>\t<reason>` lines. 9.3+ write the switch point as an LSN; 9.1 writes the
 * segment in which the old timeline ended (e.g. `000000010000000000000004`), so `switchLsn` is then that
 * segment's start (9.1 records no finer position) and `switchWalFile` keeps the name.
 */
export function parseTimelineHistory(text: string): TimelineHistoryEntry[] {
  const out: TimelineHistoryEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*(#|$)/.test(line)) continue;
    const m = /^\s*(\d+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, tli, point, reason] = m;
    if (/^[0-9A-F]{24}$/i.test(point)) {
      const logId = parseInt(point.slice(8, 16), 16);
      const seg = parseInt(point.slice(16, 24), 16);
      const lsn = `${logId.toString(16).toUpperCase()}/${(seg * 0x1000000).toString(16).toUpperCase()}`;
      out.push({ parentTli: Number(tli), switchLsn: lsn, reason: reason.trim(), switchWalFile: point.toUpperCase() });
    } else {
      out.push({ parentTli: Number(tli), switchLsn: point, reason: reason.trim() });
    }
  }
  return out;
}
