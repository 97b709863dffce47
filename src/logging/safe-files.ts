// File-system guards for the log directory: it is created 0750 and files 0640 whatever the
// umask, and nothing named like a log file is ever followed if it is a symlink (the daemon
// is root; a planted link would let anyone who can write the directory clobber any file).
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';

export const DIR_MODE = 0o750;
export const FILE_MODE = 0o640;

/** Creates `dir` (and parents) when missing; a directory we create gets exactly DIR_MODE. */
export function ensureLogDirectory(dir: string): void {
  const created = mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  if (created === undefined) return;
  // mkdir applies the umask; fix the mode of the log directory itself (parents keep theirs).
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fchmodSync(fd, DIR_MODE);
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes `path` unless it is a regular file with no other name: a planted symlink, fifo,
 * or a hard link to a file elsewhere (appending would write into that file).
 */
function removeIfForeign(path: string): void {
  let ours: boolean;
  try {
    const st = lstatSync(path);
    ours = st.isFile() && st.nlink === 1;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!ours) unlinkSync(path);
}

/**
 * Makes `path` a regular file with FILE_MODE before the writer opens it by name: a symlink,
 * hard link or other foreign entry is removed, and the file is created with O_NOFOLLOW so a link
 * planted in between makes the open fail instead of writing through it.
 */
export function prepareLogFile(path: string): void {
  removeIfForeign(path);
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW,
    FILE_MODE,
  );
  try {
    fchmodSync(fd, FILE_MODE);
  } finally {
    closeSync(fd);
  }
}

/** Removes every foreign entry whose name starts with `prefix` (before the roller scans the directory). */
export function removePlantedEntries(dir: string, prefix: string): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith(prefix)) removeIfForeign(join(dir, name));
  }
}

/** Gives an already open log file FILE_MODE (the opener's mode argument is subject to the umask). */
export function fixOpenFileMode(fd: number): void {
  if ((fstatSync(fd).mode & 0o7777) !== FILE_MODE) fchmodSync(fd, FILE_MODE);
}
