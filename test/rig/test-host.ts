// The e2e set-up written once: a test host (testbed: network namespaces, the test IMDS) and
// the analyzer daemon, started before a describe block's tests and torn down after them, the
// daemon first. Tests read both through the returned object once the block has started.
// useTestbed: the testbed alone, and daemons the tests start (several, restarts), each
// stopped and removed after the block.
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

export interface TestbedWithDaemons {
  readonly bed: Testbed;
  /** Starts a daemon that is stopped (if it still runs) and removed after the block. */
  start(analyzer?: DaemonOptions): Promise<RunningDaemon>;
}

export function useTestbed(testbed: TestbedOptions): TestbedWithDaemons {
  let bed: Testbed | undefined;
  const daemons: RunningDaemon[] = [];
  beforeAll(async () => {
    bed = await createTestbed(testbed);
  });
  afterAll(async () => {
    for (const daemon of daemons) {
      await daemon.stop();
      daemon.cleanup();
    }
    await bed?.teardown();
  });
  return {
    get bed() {
      if (bed === undefined) throw new Error('the testbed is not up (its beforeAll failed)');
      return bed;
    },
    async start(analyzer = {}) {
      const daemon = await startAnalyzer(analyzer);
      daemons.push(daemon);
      return daemon;
    },
  };
}
