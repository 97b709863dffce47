// The demo (scripts/demo.sh runs `node dist-test/test/rig/demo.js`): a test IMDS in network namespaces, the real analyzer, a few
// real IMDSv1 and IMDSv2 clients, what was caught, the migration report, clean-up.
// No packet leaves the machine: the testbed routes both IMDS addresses to
// `unreachable` in this namespace while it runs.
import { runReportCommand } from '../../src/report/index.js';
import { startAnalyzer } from './analyzer-process.js';
import {
  type Client,
  createTestbed,
  curlGcpPath,
  curlV1,
  curlV1Ipv6,
  curlV2,
  nodeHttpV1,
  nodeKeepAliveV2ThenV1,
  pythonUrllibV1,
} from './index.js';

const DEMO_CLIENTS: Array<[string, Client]> = [
  ['curl, IMDSv1', curlV1()],
  ['curl, IMDSv2 (token PUT, then GET)', curlV2()],
  ['curl over IPv6, IMDSv1', curlV1Ipv6()],
  ['python3 urllib, IMDSv1', pythonUrllibV1()],
  ['node http, IMDSv1', nodeHttpV1()],
  ['node keep-alive: v2 GET then v1 GET on one connection', nodeKeepAliveV2ThenV1()],
  ['curl to a GCP-style path (not the AWS API)', curlGcpPath()],
];

async function runDemo(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('demo: run as root (BPF programs and network namespaces need it)\n');
    return 1;
  }
  const out = (text: string) => process.stdout.write(`${text}\n`);
  out('Creating a test IMDS (169.254.169.254, fd00:ec2::254) and a client host in network namespaces...');
  const bed = await createTestbed({ prefix: 'demo' });
  let analyzer: Awaited<ReturnType<typeof startAnalyzer>> | null = null;
  try {
    analyzer = await startAnalyzer({ args: ['--console'] });
    out(`Analyzer ready: ${(analyzer.ready.programs as string[]).length} BPF programs attached, ${String(analyzer.ready.buffer)}.\n`);
    for (const [label, client] of DEMO_CLIENTS) {
      const result = await bed.run(client.argv);
      out(`  ran ${label}: exit ${result.code}, pid ${result.pid}`);
    }
    const expected = DEMO_CLIENTS.reduce((n, [, c]) => n + c.expected.total, 0);
    await analyzer.waitForRequests((lines) => lines.length >= expected, 15_000);
    await analyzer.stop();
    out('\nWhat the analyzer printed (--console), one line per HTTP request:\n');
    process.stdout.write(analyzer.stdout());
    out(`\nThe JSON lines are kept in ${analyzer.logDir}; the migration report over them:\n`);
    await runReportCommand([analyzer.logDir]);
    return 0;
  } finally {
    await analyzer?.stop();
    await bed.teardown();
    out('\nTest namespaces, routes and cgroups removed.');
  }
}

runDemo().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
