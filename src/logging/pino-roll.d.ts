// pino-roll ships no types: the part of its API the sink uses.
declare module 'pino-roll' {
  interface PinoRollOptions {
    file: string;
    extension?: string;
    dateFormat?: string;
    frequency?: 'daily' | 'hourly' | number;
    size?: string | number;
    limit?: { count: number; removeOtherLogFiles?: boolean };
    mkdir?: boolean;
    mode?: number;
    sync?: boolean;
  }
  export default function pinoRoll(options: PinoRollOptions): Promise<unknown>;
}
