// uid -> user name from /etc/passwd, re-read when the file changes.
import { readFileSync, statSync } from 'node:fs';

export class UserNames {
  private names = new Map<number, string>();
  private loadedMtimeMs = -1;

  constructor(private readonly passwd = '/etc/passwd') {}

  name(uid: number): string | null {
    let mtime = -1;
    try {
      mtime = statSync(this.passwd).mtimeMs;
    } catch {
      return null;
    }
    if (mtime !== this.loadedMtimeMs) {
      this.names = new Map();
      for (const line of readFileSync(this.passwd, 'utf8').split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id !== undefined && /^\d+$/.test(id)) this.names.set(Number(id), name);
      }
      this.loadedMtimeMs = mtime;
    }
    return this.names.get(uid) ?? null;
  }
}
