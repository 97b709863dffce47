// The testbed itself, end to end: real namespaces, the real test IMDS, real curl,
// python3 and node clients. Every claim a client makes is checked against the server's
// own request log; teardown is checked against the host.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allBasicClients,
  assertNoImdsRouteFromRoot,
  assertNoImdsRouteIn,
  botocoreCredentials,
  createTestbed,
  curlV1,
  curlV1Ipv6,
  curlV2,
  IMDS_IPV4,
  IMDS_IPV6,
  liveTestbedHolders,
  loadV1,
  type Client,
  type Testbed,
} from '../rig/index.js';
import { isAlive, linksIn, networkNamespaces, notRootReason, rootImdsRoutes, rootLinks, routesIn } from '../helpers/host-state.js';
import { expectServedAsClaimed } from '../helpers/served.js';

const IMDS = `http://${IMDS_IPV4}`;
const CURL = ['curl', '-sS', '--max-time', '5'];

/** Runs a client and returns the server log lines it caused. */
async function served(testbed: Testbed, argv: readonly string[]) {
  const before = testbed.serverRequests().length;
  const result = await testbed.run(argv);
  return { result, requests: testbed.serverRequests().slice(before) };
}

/** The JSON line a probe client prints. */
function report(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe.skipIf(notRootReason !== null)(`testbed (${notRootReason ?? 'root'})`, () => {
  const routesBeforeAnyTestbed = notRootReason === null ? rootImdsRoutes() : null;

  describe('one client namespace, default IMDS', () => {
    let testbed: Testbed;
    beforeAll(async () => {
      testbed = await createTestbed({ prefix: 'tbe' });
    });
    afterAll(async () => {
      await testbed?.teardown();
    });

    it('routes both IMDS addresses to unreachable in the root namespace while it lives', () => {
      expect(rootImdsRoutes()).toEqual({ ipv4: true, ipv6: true });
      expect(() => assertNoImdsRouteFromRoot()).not.toThrow();
      expect(() => testbed.assertNoImdsRouteFromRoot()).not.toThrow();
      // The same check fails where IMDS is reachable: in the client namespace.
      expect(() => assertNoImdsRouteIn(testbed.clientNs)).toThrow(/no unreachable route for 169\.254\.169\.254\/32/);
    });

    it('gives no namespace a default route and keeps its links out of the root namespace', () => {
      for (const ns of [testbed.imdsNs, testbed.clientNs]) {
        for (const family of ['-4', '-6'] as const) {
          expect(routesIn(ns, family).filter((route) => route.dst === 'default'), `${ns} ${family}`).toEqual([]);
        }
      }
      expect(linksIn(testbed.clientNs)).toEqual(['lo', `${testbed.name}c0`]);
      expect(rootLinks().filter((name) => name.startsWith(testbed.name))).toEqual([]);
    });

    it.each(allBasicClients().map((client) => [client.name, client] as const))(
      '%s makes exactly the requests it claims',
      async (_name, client: Client) => {
        const { result, requests } = await served(testbed, client.argv);
        expect(result.code, result.stderr).toBe(0);
        expectServedAsClaimed(client, requests);
        const address = testbed.clientAddresses[0];
        for (const request of requests) {
          expect(request.remoteAddress).toBe(client.family === 'ipv6' ? address?.ipv6 : address?.ipv4);
          expect(request.localAddress).toBe(client.family === 'ipv6' ? IMDS_IPV6 : IMDS_IPV4);
          // A v2 GET carried the token the PUT handed out.
          if (request.version === 'v2' && !request.tokenRequest) expect(request.tokenValid).toBe(true);
          if (request.version === 'v1') expect(request.tokenValid).toBeNull();
        }
      },
    );

    it('client outputs say what the server saw', async () => {
      const v1 = await testbed.run(curlV1().argv);
      expect(v1.stdout).toBe(testbed.imdsOptions.instanceId);

      const keepAlive = allBasicClients().find((client) => client.name === 'node-keepalive-v2-v1');
      const keepAliveRun = await served(testbed, keepAlive?.argv ?? []);
      const keepAliveReport = report(keepAliveRun.result.stdout);
      expect(keepAliveReport).toMatchObject({ statuses: [200, 200], sameConnection: true });
      expect(keepAliveRun.requests.slice(1).map((request) => request.remotePort)).toEqual([
        keepAliveReport.localPort,
        keepAliveReport.localPort,
      ]);
      expect(keepAliveRun.requests.slice(1).map((request) => request.requestIndex)).toEqual([0, 1]);

      const split = allBasicClients().find((client) => client.name === 'node-split-token-v2');
      const splitRun = await served(testbed, split?.argv ?? []);
      expect(report(splitRun.result.stdout)).toMatchObject({ status: 200, writes: 3 });
      expect(splitRun.requests[1]).toMatchObject({ version: 'v2', tokenValid: true, status: 200, userAgent: 'imds-testbed-split/1' });
    });

    it('serves the metadata tree SDKs read, under latest, dated and 1.0 prefixes', async () => {
      const credentials = testbed.imdsOptions.credentials;
      expect(credentials).not.toBeNull();
      const get = async (path: string) => (await testbed.run([...CURL, '-w', '\n%{http_code}', `${IMDS}${path}`])).stdout;
      expect(await get('/latest/meta-data/')).toBe('ami-id\nhostname\niam/\ninstance-id\ninstance-type\nlocal-ipv4\nplacement/\n200');
      expect(await get('/latest')).toBe('dynamic/\nmeta-data/\n200');
      expect(await get('/2021-07-15/meta-data/placement/region')).toBe(`${testbed.imdsOptions.region}\n200`);
      expect(await get('/1.0/meta-data/placement/availability-zone')).toBe(`${testbed.imdsOptions.availabilityZone}\n200`);
      expect(await get('/latest/meta-data/ami-id')).toBe(`${testbed.imdsOptions.amiId}\n200`);
      expect(await get('/latest/meta-data/iam/security-credentials/')).toBe(`${credentials?.roleName}\n200`);
      const keys = JSON.parse((await get(`/latest/meta-data/iam/security-credentials/${credentials?.roleName}`)).replace(/\n200$/, ''));
      expect(keys).toMatchObject({
        Code: 'Success',
        AccessKeyId: credentials?.accessKeyId,
        SecretAccessKey: credentials?.secretAccessKey,
        Token: credentials?.token,
      });
      expect(Date.parse(keys.Expiration)).toBeGreaterThan(Date.now());
      expect(JSON.parse((await get('/latest/meta-data/iam/info')).replace(/\n200$/, ''))).toMatchObject({ Code: 'Success' });
      const identity = JSON.parse((await get('/latest/dynamic/instance-identity/document')).replace(/\n200$/, ''));
      expect(identity).toMatchObject({ instanceId: testbed.imdsOptions.instanceId, region: testbed.imdsOptions.region });
      expect(await get('/latest/user-data')).toBe('Not Found\n404');
      expect(await get('/latest/meta-data/no-such-thing')).toBe('Not Found\n404');
      expect(await get('/metadata/instance?api-version=2021-02-01')).toBe('Not Found\n404');
      expect(await get('/openstack/latest/meta_data.json')).toBe('Not Found\n404');
    });

    it('answers bad token PUTs and bad tokens like IMDS, and never logs a token', async () => {
      const put = (...headers: string[]) => [...CURL, '-w', '%{http_code}', '-o', '/dev/null', '-X', 'PUT', ...headers.flatMap((h) => ['-H', h]), `${IMDS}/latest/api/token`];
      expect((await testbed.run(put())).stdout).toBe('400');
      expect((await testbed.run(put('X-aws-ec2-metadata-token-ttl-seconds: 0'))).stdout).toBe('400');
      expect((await testbed.run(put('X-aws-ec2-metadata-token-ttl-seconds: 21601'))).stdout).toBe('400');
      expect((await testbed.run(put('X-aws-ec2-metadata-token-ttl-seconds: 60', 'X-Forwarded-For: 10.0.0.1'))).stdout).toBe('403');

      const bogus = await served(testbed, [...CURL, '-H', 'X-aws-ec2-metadata-token: bogus', `${IMDS}/latest/meta-data/instance-id`]);
      expect(bogus.requests).toMatchObject([{ version: 'v2', tokenValid: false, status: 401 }]);

      // A token with a TTL of 1 s is refused once it has expired.
      const expiring = [
        `T=$(curl -sS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 1' ${IMDS}/latest/api/token)`,
        'echo "$T"',
        'sleep 1.2',
        `curl -sS -o /dev/null -w '%{http_code}' -H "X-aws-ec2-metadata-token: $T" ${IMDS}/latest/meta-data/instance-id`,
      ].join('; ');
      const expired = await served(testbed, ['sh', '-c', expiring]);
      const [token, status] = expired.result.stdout.split('\n');
      expect(status).toBe('401');
      expect(expired.requests).toMatchObject([{ tokenRequest: true, status: 200 }, { tokenValid: false, status: 401 }]);
      expect(token?.length).toBeGreaterThan(40);
      expect(readFileSync(testbed.serverLogFile, 'utf8')).not.toContain(token);
      const credentials = testbed.imdsOptions.credentials;
      expect(readFileSync(testbed.serverLogFile, 'utf8')).not.toContain(credentials?.secretAccessKey);
    });

    it('answers malformed traffic with 4xx or a close, and keeps serving', async () => {
      const sendEach = `
        const net = require('net');
        const payloads = [
          require('crypto').randomBytes(4096),
          'GET /latest/meta-data/ HTTP/1.1\\r\\nX-Big: ' + 'a'.repeat(20000) + '\\r\\n\\r\\n',
          'GET /latest/meta-data/\\r\\n\\r\\n',
          '\\0\\0GET / HTTP/1.1\\r\\n\\r\\n',
          'GET /latest/meta-data/ HTTP/1.1\\r\\nHo',
          'GET /latest/meta-data/instance-id HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n',
        ];
        (async () => {
          const lines = [];
          for (const payload of payloads) {
            lines.push(await new Promise((resolve) => {
              const socket = net.connect(80, '${IMDS_IPV4}');
              let answer = '';
              socket.on('data', (chunk) => { answer += chunk; });
              socket.on('error', () => undefined);
              socket.on('close', () => resolve(answer.split('\\r\\n')[0]));
              socket.write(payload);
              setTimeout(() => socket.destroy(), 500);
            }));
          }
          console.log(JSON.stringify(lines));
        })();`;
      const result = await testbed.run([process.execPath, '-e', sendEach]);
      const lines = JSON.parse(result.stdout) as string[];
      for (const line of lines.slice(0, 4)) expect(line).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(lines[4]).toBe(''); // half-sent: no answer before the client gave up
      expect(lines[5]).toBe('HTTP/1.1 200 OK'); // IMDS does not insist on a Host header
      expect((await testbed.run(curlV1().argv)).stdout).toBe(testbed.imdsOptions.instanceId);
    });

    it('load client: 8 workers x 250 v1 GETs, every one served', async () => {
      const load = loadV1({ workers: 8, requests: 250 });
      const { result, requests } = await served(testbed, load.argv);
      expect(report(result.stdout)).toMatchObject({ completed: 2000, failed: 0, statuses: { 200: 2000 } });
      expect(requests).toHaveLength(load.expected.total);
      expectServedAsClaimed(load, requests);
    });

    it('runs a client inside a named cgroup and a new pid namespace', async () => {
      const cgroup = `${testbed.name}.slice/docker-${'ab'.repeat(32)}.scope`;
      const result = await testbed.run(['sh', '-c', 'grep ^0:: /proc/self/cgroup; echo $$'], { cgroup, pidNs: true });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe(`0::/${cgroup}\n1\n`);
      expect(testbed.createdCgroups()).toEqual([testbed.cgroupPath(`${testbed.name}.slice`), testbed.cgroupPath(cgroup)]);
    });

    it('a timeout kills the client, also the init of its pid namespace', async () => {
      const result = await testbed.run(['sh', '-c', 'sleep 600'], { pidNs: true, timeoutMs: 300 });
      expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
      await expect.poll(() => execFileSync('ip', ['netns', 'pids', testbed.clientNs], { encoding: 'utf8' }), { timeout: 2000 }).toBe('');
    });

    it.each(['ok', 403, 404, 405, 'drop'] as const)(
      'botocore (Debian python3-botocore) gets role credentials when the token PUT is %s',
      async (tokenPut) => {
        await testbed.restartServer({ tokenPut });
        const botocore = botocoreCredentials({ tokenPut });
        const { result, requests } = await served(testbed, botocore.argv);
        expect(result.stdout, result.stderr).toBe(`iam-role ${testbed.imdsOptions.credentials?.accessKeyId}\n`);
        expectServedAsClaimed(botocore, requests);
        expect(requests[0]?.status).toBe(tokenPut === 'ok' ? 200 : tokenPut === 'drop' ? null : tokenPut);
        for (const request of requests) expect(request.userAgent).toMatch(/^Botocore\/\d+\.\d+\.\d+ Python\//);
      },
    );

    it('tokens: required answers 401 to IMDSv1 and 200 to IMDSv2', async () => {
      await testbed.restartServer({ tokens: 'required' });
      const v1 = await served(testbed, curlV1().argv);
      expect(v1.result.stdout).toBe('Unauthorized');
      expect(v1.requests).toMatchObject([{ version: 'v1', status: 401 }]);
      const v2 = await served(testbed, curlV2().argv);
      expect(v2.result.stdout).toBe(testbed.imdsOptions.instanceId);
      expect(v2.requests.map((request) => request.status)).toEqual([200, 200]);
    });

    it('tokenPut: 403 refuses the PUT, "drop" never answers it', async () => {
      await testbed.restartServer({ tokenPut: 403 });
      const refused = await served(testbed, [...CURL, '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', '-H', 'X-aws-ec2-metadata-token-ttl-seconds: 60', `${IMDS}/latest/api/token`]);
      expect(refused.result.stdout).toBe('403');
      expect(refused.requests).toMatchObject([{ tokenRequest: true, status: 403 }]);
      // v1 still works: the fallback SDKs take after a 403.
      expect((await testbed.run(curlV1().argv)).stdout).toBe(testbed.imdsOptions.instanceId);

      await testbed.restartServer({ tokenPut: 'drop' });
      const dropped = await served(testbed, ['curl', '-sS', '--max-time', '1', '-X', 'PUT', '-H', 'X-aws-ec2-metadata-token-ttl-seconds: 60', `${IMDS}/latest/api/token`]);
      expect(dropped.result.code).toBe(28); // curl: operation timed out
      expect(dropped.requests).toMatchObject([{ tokenRequest: true, status: null }]);
    });
  });

  describe('several client namespaces on one bridge, custom IMDS settings', () => {
    const settings = {
      userData: '#!/bin/sh\necho hello\n',
      credentials: { roleName: 'tbm-role', accessKeyId: 'ASIATBMUNIQUE0001', secretAccessKey: 'tbm-secret-0001', token: 'tbm-token-0001' },
    };
    let testbed: Testbed;
    beforeAll(async () => {
      testbed = await createTestbed({ prefix: 'tbm', clients: 3, imds: settings });
    });
    afterAll(async () => {
      await testbed?.teardown();
    });

    it('each client namespace reaches the IMDS from its own address, v4 and v6', async () => {
      expect(testbed.clientNamespaces).toHaveLength(3);
      for (const [index, address] of testbed.clientAddresses.entries()) {
        for (const client of [curlV1(), curlV1({ ipv6: true })]) {
          const before = testbed.serverRequests().length;
          const result = await testbed.run(client.argv, { client: index });
          expect(result.stdout, result.stderr).toBe(testbed.imdsOptions.instanceId);
          const [request] = testbed.serverRequests().slice(before);
          expect(request?.remoteAddress).toBe(client.family === 'ipv6' ? address.ipv6 : address.ipv4);
        }
      }
    });

    it('restartServer keeps the creation settings under the new ones', async () => {
      const userData = curlV1({ path: '/latest/user-data' });
      expect((await testbed.run(userData.argv)).stdout).toBe(settings.userData);
      await testbed.restartServer({ tokens: 'required' });
      expect(testbed.imdsOptions).toMatchObject({ tokens: 'required', ...settings });
      expect((await testbed.run(userData.argv)).stdout).toBe('Unauthorized');
      const role = curlV2({ path: '/latest/meta-data/iam/security-credentials/tbm-role' });
      expect(JSON.parse((await testbed.run(role.argv, { client: 2 })).stdout)).toMatchObject({ AccessKeyId: 'ASIATBMUNIQUE0001' });
    });
  });

  describe('IPv4 only', () => {
    it('builds without IPv6 addresses and serves IPv4', async () => {
      const testbed = await createTestbed({ prefix: 'tb4', ipv6: false });
      try {
        expect(testbed.clientAddresses).toEqual([{ ipv4: '169.254.10.1', ipv6: null }]);
        expect(testbed.imdsOptions.listen).toEqual([IMDS_IPV4]);
        expect((await testbed.run(curlV1().argv)).stdout).toBe(testbed.imdsOptions.instanceId);
        const v6 = await testbed.run(curlV1Ipv6().argv);
        expect(v6.code).toBe(7); // curl: could not connect
        expect(testbed.serverRequests()).toHaveLength(1);
      } finally {
        await testbed.teardown();
      }
    });
  });

  describe('teardown', () => {
    it('leaves no namespace, link, cgroup, process or route behind, and is idempotent', async () => {
      const testbed = await createTestbed({ prefix: 'tbt', clients: 2 });
      const cgroup = testbed.cgroupPath(`${testbed.name}.slice/app.service`);
      const sleeper = testbed.spawn(['sleep', '600'], { cgroup: `${testbed.name}.slice/app.service` });
      // A client's orphan that outlives its parent must die too.
      const orphanRun = await testbed.run(['sh', '-c', 'sleep 600 >/dev/null 2>&1 & echo $!']);
      const orphanPid = Number(orphanRun.stdout.trim());
      const namespaces = [testbed.imdsNs, ...testbed.clientNamespaces];
      expect(networkNamespaces()).toEqual(expect.arrayContaining(namespaces));
      expect(isAlive(sleeper.pid) && isAlive(orphanPid)).toBe(true);
      expect(existsSync(cgroup)).toBe(true);

      await testbed.teardown();
      await sleeper.result;
      await expect.poll(() => isAlive(orphanPid), { timeout: 2000 }).toBe(false);
      expect(networkNamespaces().filter((ns) => namespaces.includes(ns))).toEqual([]);
      expect(rootLinks().filter((name) => name.startsWith(testbed.name))).toEqual([]);
      expect(existsSync(cgroup) || existsSync(dirname(cgroup))).toBe(false);
      expect(existsSync(testbed.workDir)).toBe(false);
      await expect(testbed.teardown()).resolves.toBeUndefined();
    });

    /**
     * A separate node process that builds a testbed with a cgroup and a client, prints it,
     * and runs `onGo` when `go()` writes to its stdin (until then it just lives).
     */
    async function testbedInAnotherProcess(onGo = '') {
      const index = new URL('../../dist-test/test/rig/index.js', import.meta.url).href;
      const script = `
        const { createTestbed } = await import(${JSON.stringify(index)});
        const testbed = await createTestbed({ prefix: 'tbx' });
        const cgroup = testbed.cgroupPath(testbed.name + '.slice/app.service');
        testbed.spawn(['sleep', '600'], { cgroup: testbed.name + '.slice/app.service' });
        console.log(JSON.stringify({ name: testbed.name, namespaces: [testbed.imdsNs, testbed.clientNs], cgroup }));
        process.stdin.once('data', () => { ${onGo} });`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
      const line = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
      const made = JSON.parse(line) as { name: string; namespaces: string[]; cgroup: string };
      expect(networkNamespaces()).toEqual(expect.arrayContaining(made.namespaces));
      expect(existsSync(made.cgroup)).toBe(true);
      return { child, exited, made, go: () => child.stdin.write('go\n') };
    }

    function expectGone(made: { name: string; namespaces: string[]; cgroup: string }): void {
      expect(networkNamespaces().filter((ns) => made.namespaces.includes(ns))).toEqual([]);
      expect(existsSync(dirname(made.cgroup))).toBe(false);
      expect(liveTestbedHolders().filter((holder) => holder.includes(made.name))).toEqual([]);
    }

    it('cleans up when the process exits without teardown', async () => {
      const { exited, made, go } = await testbedInAnotherProcess('process.exit(3);');
      go();
      expect(await exited).toBe(3);
      expectGone(made);
    });

    it.each(['SIGTERM', 'SIGINT'] as const)('cleans up on %s and still dies of it', async (signal) => {
      const { child, exited, made } = await testbedInAnotherProcess();
      child.kill(signal);
      expect(await exited).toBe(signal);
      expectGone(made);
    });

    it('after SIGKILL, the next testbed registration on the host removes what was left', async () => {
      const { child, exited, made } = await testbedInAnotherProcess();
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(networkNamespaces()).toEqual(expect.arrayContaining(made.namespaces));
      const next = await createTestbed({ prefix: 'tbn' });
      await next.teardown();
      expectGone(made);
    });

    it('hold.js keeps a testbed for shell scripts until SIGTERM', async () => {
      const hold = fileURLToPath(new URL('../../dist-test/test/rig/hold.js', import.meta.url));
      const child = spawn(process.execPath, [hold, '--prefix', 'tbh', '--imds', '{"tokens":"required"}'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const held = JSON.parse(await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())))) as {
        imdsNs: string;
        clientNs: string;
        netnsPaths: string[];
        serverLogFile: string;
      };
      expect(held.netnsPaths).toEqual([`/run/netns/${held.clientNs}`]);
      const curl = execFileSync('ip', ['netns', 'exec', held.clientNs, ...curlV1().argv], { encoding: 'utf8' });
      expect(curl).toBe('Unauthorized');
      expect(readFileSync(held.serverLogFile, 'utf8')).toContain('"status":401');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(networkNamespaces().filter((ns) => ns === held.imdsNs || ns === held.clientNs)).toEqual([]);
    });

    it('restores the root routes to what they were before any testbed', () => {
      const otherTestbeds = liveTestbedHolders();
      // Routes testbeds added stay while testbeds of other processes on this host still live.
      if (otherTestbeds.length > 0) expect(rootImdsRoutes()).toEqual({ ipv4: true, ipv6: true });
      else expect(rootImdsRoutes()).toEqual(routesBeforeAnyTestbed);
    });
  });
});
