// The daemon's state for `imds-analyzer status`: written atomically (temp file, then
// rename) so that a reader never sees half a file.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusDocument } from '../model/log-line.js';

export const STATUS_FILE_NAME = 'status.json';

export function writeStatusFile(stateDir: string, status: StatusDocument): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  const target = join(stateDir, STATUS_FILE_NAME);
  const temp = `${target}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(status, (_key, value) => (typeof value === 'bigint' ? Number(value) : value), 2)}\n`, { mode: 0o644 });
  renameSync(temp, target);
}
