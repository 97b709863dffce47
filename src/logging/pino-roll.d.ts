// pino-roll ships no types: the part of its API the sink uses.
declare module 'pino-roll' {
  import type { SonicBoom, SonicBoomOpts } from 'sonic-boom';

  interface PinoRollOptions extends SonicBoomOpts {
    file: string;
    extension?: string;
    dateFormat?: string;
    frequency?: 'daily' | 'hourly' | number;
    size?: string | number;
    limit?: { count: number; removeOtherLogFiles?: boolean };
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
