// pino-roll ships no types: the part of its API the sink uses. rolling-file.ts wraps the
// stream's reopen() and reads its file/fd, which are internals: package.json pins pino-roll
// to the exact version these were read from (4.0.0), so an update is a deliberate change.
declare module 'pino-roll' {
  import type { SonicBoom, SonicBoomOpts } from 'sonic-boom';

  interface PinoRollOptions extends SonicBoomOpts {
    file: string;
    extension?: string;
    dateFormat?: string;
    frequency?: 'daily' | 'hourly' | number;
    size?: string | number;
  }

  /** The SonicBoom stream pino-roll returns, with the state it keeps public in practice. */
  export interface RollStream extends SonicBoom {
    /** Path of the file currently written. */
    file: string;
    fd: number;
    destroyed: boolean;
  }

  export default function pinoRoll(options: PinoRollOptions): Promise<RollStream>;
}
