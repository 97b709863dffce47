// The testbed room: network-namespace test hosts, the test IMDS server and real clients.
// Needs root and a build (`npm run build`: the server and probe clients run from dist/).
//
//   const testbed = await createTestbed({ prefix: 'cap', imds: { tokenPut: 403 } });
//   try {
//     const client = curlV2();                       // argv + the requests IMDS should see
//     const result = await testbed.run(client.argv, { cgroup: 'system.slice/x.service' });
//     testbed.serverRequests();                      // IMDS's own log: method, path, version, status
//     await testbed.restartServer({ tokens: 'required' });
//   } finally {
//     await testbed.teardown();                      // also runs on exit, SIGINT, SIGTERM
//   }
//
// Shell scripts: `node dist-test/test/rig/hold.js --prefix P [--clients N] [--imds JSON]` prints
// the namespaces as JSON and holds them until SIGTERM.
export { createTestbed } from './netns.js';
export type { ClientAddresses, ImdsServerSettings, RunOptions, Testbed, TestbedOptions } from './netns.js';
export { assertNoImdsRouteFromRoot, assertNoImdsRouteIn, liveTestbedHolders } from './host-registry.js';
export { IMDS_IPV4, IMDS_IPV6, parseImdsOptions } from './imds-options.js';
export type { ImdsCredentials, ImdsOptions, ImdsOptionsInput, ServedRequest } from './imds-options.js';
export type { RunResult, RunningProcess } from './exec.js';
export * from './clients.js';
