// Holds the test IMDS's own request log to what a testbed client says it sends.
import { expect } from 'vitest';
import type { Client, ServedRequest } from '../rig/index.js';

const shape = (request: { method: string; path: string; version: string; tokenRequest: boolean }) => ({
  method: request.method,
  path: request.path,
  version: request.version,
  tokenRequest: request.tokenRequest,
});

/**
 * Asserts that `served` (the server log lines the client caused) are exactly the
 * client's expected requests, in order, and that requests share a TCP connection
 * exactly when the client says they do.
 */
export function expectServedAsClaimed(client: Client, served: ServedRequest[]): void {
  expect(served.map(shape), client.name).toEqual(client.expects.map(shape));
  // Client connection numbers and server connection ids must map one to one.
  const serverFor = new Map<number, number>();
  const clientFor = new Map<number, number>();
  served.forEach((request, index) => {
    const claimed = client.expects[index]?.connection ?? -1;
    const where = `${client.name} request ${index}`;
    expect(serverFor.get(claimed) ?? request.connection, `${where}: same connection as before`).toBe(request.connection);
    expect(clientFor.get(request.connection) ?? claimed, `${where}: a new connection`).toBe(claimed);
    serverFor.set(claimed, request.connection);
    clientFor.set(request.connection, claimed);
  });
}
