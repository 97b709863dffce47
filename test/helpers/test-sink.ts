// The log sink on real files as the unit tests open it: small daily files, no console, level
// info and a test host's identity; a test overrides what it is about.
import { createLogSink, type LogSink, type LogSinkOptions } from '../../src/logging/index.js';

export const TEST_IDENTITY = {
  instance_id: 'i-0123456789abcdef0',
  region: 'eu-west-1',
  boot_id: '4b1f2a8e-0c5d-4e7f-9a3b-2d6c8e0f1a2b',
};

export function openTestSink(dir: string, overrides: Partial<LogSinkOptions> = {}): Promise<LogSink> {
  return createLogSink({
    dir,
    rotation: { maxSizeMB: 1, frequency: 'daily', maxFiles: 3 },
    console: false,
    level: 'info',
    identity: TEST_IDENTITY,
    ...overrides,
  });
}
