// The e2e set-up written once: a test host (testbed: network namespaces, the test IMDS) and
// the analyzer daemon, started before a describe block's tests and torn down after them, the
// daemon first. Tests read both through the returned object once the block has started.
import { afterAll, beforeAll } from 'vitest';
import { type DaemonOptions, type RunningDaemon, startAnalyzer } from './analyzer-process.js';
import { type Testbed, type TestbedOptions, createTestbed } from './netns.js';

export interface TestHost {
  readonly bed: Testbed;
  readonly daemon: RunningDaemon;
}

export function useTestHost(testbed: TestbedOptions, analyzer: DaemonOptions = {}): TestHost {
  let bed: Testbed | undefined;
  let daemon: RunningDaemon | undefined;
  beforeAll(async () => {
    bed = await createTestbed(testbed);
    daemon = await startAnalyzer(analyzer);
  });
  afterAll(async () => {
    await daemon?.stop();
    daemon?.cleanup();
    await bed?.teardown();
  });
  const up = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test host is not up (its beforeAll failed)');
    return value;
  };
  return {
    get bed() {
      return up(bed);
    },
    get daemon() {
      return up(daemon);
    },
  };
}
