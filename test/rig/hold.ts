// A testbed for shell scripts (nspawn boot test, kernel matrix, manual runs):
//   node dist-test/test/rig/hold.js [--prefix P] [--clients N] [--imds '<json>'] [--until-stdin-closes]
// builds a testbed, prints one JSON line describing it, and holds it until SIGTERM/SIGINT
// (or stdin closing, when asked), then tears it down and exits 0.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestbed, type ImdsServerSettings } from './netns.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      prefix: { type: 'string', default: 'hold' },
      clients: { type: 'string', default: '1' },
      imds: { type: 'string', default: '{}' },
      'until-stdin-closes': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const testbed = await createTestbed({
    prefix: values.prefix,
    clients: Number(values.clients),
    imds: JSON.parse(values.imds) as ImdsServerSettings,
  });
  process.stdout.write(
    `${JSON.stringify({
      name: testbed.name,
      imdsNs: testbed.imdsNs,
      clientNs: testbed.clientNs,
      clientNamespaces: testbed.clientNamespaces,
      netnsPaths: testbed.clientNamespaces.map((ns) => `/run/netns/${ns}`),
      clientAddresses: testbed.clientAddresses,
      serverLogFile: testbed.serverLogFile,
      workDir: testbed.workDir,
    })}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    if (values['until-stdin-closes']) process.stdin.on('end', resolve).resume();
  });
  await testbed.teardown();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`testbed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
