// The daemon's state for `imds-analyzer status`: written atomically (temp file, then
// rename) so that a reader never sees half a file. It holds no secret: readable by all
// whatever the umask (the unit sets UMask=0077), so a non-root `status` can read it. The
// temp file is made new, never opened through a link.
import {
  chmodSync,
  closeSync,
  fchmodSync,
  mkdirSync,
  openSync,
  constants as fs,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { StatusDocument } from '../model/log-line.js';

export const STATUS_FILE_NAME = 'status.json';

const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

/** Throws on any failure (a full /run): the caller counts it. */
export function writeStatusFile(stateDir: string, status: StatusDocument): void {
  if (mkdirSync(stateDir, { recursive: true, mode: DIR_MODE }) !== undefined) chmodSync(stateDir, DIR_MODE);
  const target = join(stateDir, STATUS_FILE_NAME);
  const temp = `${target}.${process.pid}.tmp`;
  const text = `${JSON.stringify(status, (_key, value) => (typeof value === 'bigint' ? Number(value) : value), 2)}\n`;
  try {
    rmSync(temp, { force: true });
    const fd = openSync(temp, fs.O_WRONLY | fs.O_CREAT | fs.O_EXCL | fs.O_NOFOLLOW, FILE_MODE);
    try {
      fchmodSync(fd, FILE_MODE);
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
