// The testbed room: network-namespace test hosts, the test IMDS server and real clients.
export { createTestbed } from './netns.js';
export type { ClientAddresses, ImdsServerSettings, RunOptions, Testbed, TestbedOptions } from './netns.js';
export { assertNoImdsRouteFromRoot, liveTestbedHolders } from './host-registry.js';
export { IMDS_IPV4, IMDS_IPV6, parseImdsOptions } from './imds-options.js';
export type { ImdsCredentials, ImdsOptions, ImdsOptionsInput, ServedRequest } from './imds-options.js';
export type { RunResult, RunningProcess } from './exec.js';
export * from './clients.js';
