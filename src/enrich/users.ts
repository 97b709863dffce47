// uid -> user name from /etc/passwd, re-read when the file changes (mtime or size).
import { readFileSync, statSync } from 'node:fs';

export class UserNames {
  private names = new Map<number, string>();
  private loadedVersion = '';

  constructor(private readonly passwd = '/etc/passwd') {}

  /** The user name, or null when the uid has none or the file cannot be read. */
  name(uid: number): string | null {
    try {
      const stat = statSync(this.passwd);
      const version = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
      if (version !== this.loadedVersion) {
        this.names = parsePasswd(readFileSync(this.passwd, 'utf8'));
        this.loadedVersion = version;
      }
    } catch {
      return null;
    }
    return this.names.get(uid) ?? null;
  }
}

function parsePasswd(content: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of content.split('\n')) {
    const [name, , id] = line.split(':');
    // The first entry for a uid is the one getpwuid() returns.
    if (name && id !== undefined && /^\d+$/.test(id) && !names.has(Number(id))) names.set(Number(id), name);
  }
  return names;
}
