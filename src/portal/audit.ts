/**
 * The portal's audit log: one JSON line per event that matters to an instructor later (which env opened
 * which terminal as whom, when and from where; refused requests; rotated links). Kept beside the link
 * file, on the instructor's machine, never in a container.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { stateDir } from './links.js';

export interface AuditEvent {
  event: 'serve' | 'page' | 'terminal-open' | 'terminal-reattach' | 'terminal-close' | 'check' | 'grade' | 'refused' | 'rotate';
  env?: string;
  server?: string;
  user?: string;
  from?: string;
  detail?: string;
}

export class AuditLog {
  readonly file: string;

  constructor(className: string, dir = stateDir()) {
    this.file = path.join(dir, 'portal', `${className}.audit.jsonl`);
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
  }

  write(e: AuditEvent): void {
    try {
      appendFileSync(this.file, `${JSON.stringify({ at: new Date().toISOString(), ...e })}\n`, { mode: 0o600 });
    } catch {
      // A full disk must not take the class's terminals down with it.
    }
  }
}
