// Streams log lines from files and directories: current and rotated logs, and
// gzip-compressed ones, line by line (memory does not grow with the files).
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

/** Regular files named by the arguments; directories contribute their regular files. */
export function expandInputs(inputs: string[]): string[] {
  const files: string[] = [];
  for (const input of inputs) {
    const st = statSync(input);
    if (st.isDirectory()) {
      for (const name of readdirSync(input).sort()) {
        const path = join(input, name);
        if (statSync(path).isFile()) files.push(path);
      }
    } else if (st.isFile()) {
      files.push(input);
    }
  }
  return files;
}

export async function* readLines(file: string): AsyncGenerator<string> {
  const raw = createReadStream(file);
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) yield line;
}
