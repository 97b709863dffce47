// Real clients in the test netns put secrets in their own argv, in a
// parent's argv and in `sh -c` scripts, and pass a real IMDSv2 token positionally to programs
// that send it in their header. Every log file, the console output (--console), stderr and
// status.json are then searched for each secret: zero hits, while each request still has its
// line with the program's argv shape.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LINE_ANCESTOR_ARGV_ELEMENTS } from '../../src/logic/request-line.js';
import type { RequestLine } from '../rig/analyzer-process.js';
import { useTestHost } from '../rig/test-host.js';

type Line = RequestLine;

const isRoot = process.getuid?.() === 0;
const IMDS = 'http://169.254.169.254'; // dialled only via bed.run, inside the test netns
const R = '[REDACTED]';

const url = (marker: string) => `${IMDS}/latest/meta-data/instance-id?t=${marker}`;
const secret = (name: string) => `s3cr3t-${name}-${randomBytes(6).toString('hex')}`;
/** argv with every secret replaced, as the line must show it. */
const shape = (argv: string[], secrets: string[]) =>
  argv.map((a) => secrets.reduce((text, s) => text.split(s).join(R), a));

interface Case {
  marker: string;
  /** What the client runs; `who` says whose argv holds the secrets. */
  argv: string[];
  who: 'process' | 'parent';
  secrets: string[];
}

/** The parent `sh` holds the secret-bearing arguments; its child curl calls IMDS. */
const parentHolding = (marker: string, args: string[]): string[] => [
  'sh',
  '-c',
  `curl -s -o /dev/null '${url(marker)}'; true`,
  'tool',
  ...args,
];

function cases(): Case[] {
  const s = Object.fromEntries(
    [
      'bearer',
      'basic',
      'u',
      'user',
      'urlpw',
      'pw',
      'pweq',
      'tok',
      'api',
      'client',
      'sec',
      'mysql',
      'aws',
      'dkey',
      'dsdk',
      'awsflag',
      'dbpw',
      'sess',
      'sk',
      'scriptu',
      'scriptb',
    ].map((n) => [n, secret(n)]),
  ) as Record<string, string>;
  const curl = (marker: string, args: string[], secrets: string[]): Case => ({
    marker,
    argv: ['curl', '-s', '-o', '/dev/null', ...args, url(marker)],
    who: 'process',
    secrets,
  });
  const parent = (marker: string, args: string[], secrets: string[]): Case => ({
    marker,
    argv: parentHolding(marker, args),
    who: 'parent',
    secrets,
  });
  return [
    curl('bearer', ['-H', `Authorization: Bearer ${s.bearer}`], [s.bearer!]),
    curl('basic', ['-H', `authorization: basic ${s.basic}`], [s.basic!]),
    curl('u', ['-u', `admin:${s.u}`], [s.u!]),
    curl('user', ['--user', `admin:${s.user}`], [s.user!]),
    {
      marker: 'urlpw',
      argv: [
        'curl',
        '-s',
        '-o',
        '/dev/null',
        `http://admin:${s.urlpw}@169.254.169.254/latest/meta-data/instance-id?t=urlpw`, // run in the test netns
      ],
      who: 'process',
      secrets: [s.urlpw!],
    },
    parent('pw', ['--password', s.pw!], [s.pw!]),
    parent('pweq', [`--Password=${s.pweq}`], [s.pweq!]),
    parent('tok', [`--token=${s.tok}`], [s.tok!]),
    parent('api', ['--api-key', s.api!], [s.api!]),
    parent('client', ['--client-secret', s.client!], [s.client!]),
    parent('sec', ['--secret', s.sec!], [s.sec!]),
    parent('mysql', ['mysql', '-uroot', `-p${s.mysql}`], [s.mysql!]),
    parent('aws', ['aws', 'configure', 'set', 'aws_secret_access_key', s.aws!], [s.aws!]),
    parent('dkey', ['java', `-Daws.secretKey=${s.dkey}`], [s.dkey!]),
    parent('dsdk', ['java', `-Dcom.amazonaws.sdk.ec2.secretKey=${s.dsdk}`], [s.dsdk!]),
    parent('awsflag', ['aws', 's3', 'ls', '--aws-secret-access-key', s.awsflag!], [s.awsflag!]),
    {
      marker: 'script-env',
      argv: [
        'sh',
        '-c',
        `DB_PASSWORD=${s.dbpw} AWS_SESSION_TOKEN='${s.sess}' env APP_SECRET_KEY="${s.sk}" curl -s -o /dev/null '${url('script-env')}'; true`,
      ],
      who: 'parent',
      secrets: [s.dbpw!, s.sess!, s.sk!],
    },
    {
      marker: 'script-curl',
      argv: [
        'bash',
        '-c',
        `cd /tmp && curl -s -o /dev/null -u "me:${s.scriptu}" -H 'Authorization: Bearer ${s.scriptb}' '${url('script-curl')}' | cat`,
      ],
      who: 'parent',
      secrets: [s.scriptu!, s.scriptb!],
    },
  ];
}

/**
 * A real token (PUT to the test IMDS) passed as a plain positional argument: to node, which
 * sends it in its own header, and to a script whose child curl sends it.
 */
function tokenScript(): string {
  const js = `const [t, m] = process.argv.slice(1); const h = 'X-aws-ec2-metadata-' + 'token'; require('http').get({ host: '169.254.169.254', path: '/latest/meta-data/instance-id?t=' + m, headers: { [h]: t } }, (r) => r.resume());`; // run in the test netns
  return [
    `T=$(curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' '${IMDS}/latest/api/token')`,
    `printf '%s' "$T"`,
    `'${process.execPath}' -e "${js}" "$T" token-node`,
    `sh -c 'curl -s -o /dev/null -H "X-aws-ec2-metadata-token: $1" "$2"; true' fetch.sh "$T" '${url('token-script')}'`,
  ].join('; ');
}

describe.skipIf(!isRoot)('no secret in any output, end to end', () => {
  const host = useTestHost({ prefix: 'secrets' }, { args: ['--console'] });

  it('argv, parents and scripts keep their shape; logs, console, stderr and status.json hold no secret', async () => {
    const all = cases();
    for (const c of all) expect((await host.bed.run(c.argv)).code).toBe(0);
    const tokenRun = await host.bed.run(['sh', '-c', tokenScript()]);
    expect(tokenRun.code).toBe(0);
    const token = tokenRun.stdout;
    expect(token).toMatch(/^[A-Za-z0-9+/]{40,}={0,2}$/);

    const markers = [...all.map((c) => c.marker), 'token-node', 'token-script'];
    const found = await host.daemon.waitForRequests((lines) =>
      markers.every((m) => lines.some((l) => l.request.path.endsWith(`?t=${m}`))),
    );
    const lineOf = (marker: string) => found.find((l) => l.request.path.endsWith(`?t=${marker}`)) as Line;

    for (const c of all) {
      const line = lineOf(c.marker);
      if (c.who === 'process') {
        expect(line.process.argv).toEqual(shape(c.argv, c.secrets));
        expect(line.redacted).toContain('process.argv');
      } else {
        expect(line.process.argv[0]).toMatch(/curl$/);
        // An ancestor's argv is bounded on the line (the Logs Insights field budget).
        const expected = shape(c.argv, c.secrets).slice(0, LINE_ANCESTOR_ARGV_ELEMENTS);
        expect(line.ancestors.some((a) => JSON.stringify(a.argv) === JSON.stringify(expected))).toBe(true);
        if (c.argv.length <= LINE_ANCESTOR_ARGV_ELEMENTS) expect(line.redacted).toContain('ancestors.argv');
      }
    }
    const node = lineOf('token-node');
    expect(node.process.argv).toEqual([process.execPath, '-e', expect.any(String), R, 'token-node']);
    expect(node.redacted).toContain('process.argv');
    const script = lineOf('token-script');
    expect(script.process.argv).toEqual([
      'curl',
      '-s',
      '-o',
      '/dev/null',
      '-H',
      `X-aws-ec2-metadata-token: ${R}`,
      url('token-script'),
    ]);
    // The script's own header value ($1) is header-shaped, so it goes too; the token passed as $1 is known.
    expect(script.ancestors[0]?.argv).toEqual([
      'sh',
      '-c',
      `curl -s -o /dev/null -H "X-aws-ec2-metadata-token: ${R}" "$2"; true`,
      'fetch.sh',
      R,
      url('token-script'),
    ]);
    // The outer script's own argv never held the token (only "$T"): nothing to redact there.
    expect(JSON.stringify(script.ancestors)).toContain('$(curl -s -X PUT');

    await host.daemon.stop();
    const secrets = [...all.flatMap((c) => c.secrets), token];
    const outputs: Array<[string, string]> = [
      ...readdirSync(host.daemon.logDir).map((name): [string, string] => [
        name,
        readFileSync(join(host.daemon.logDir, name), 'utf8'),
      ]),
      ['console (stdout)', host.daemon.stdout()],
      ['stderr', host.daemon.stderr()],
      ['status.json', readFileSync(join(host.daemon.stateDir, 'status.json'), 'utf8')],
    ];
    expect(host.daemon.stdout()).toContain('?t=token-node');
    for (const [name, text] of outputs) {
      for (const s of secrets) expect(text.includes(s), `${name} holds a secret`).toBe(false);
    }
  });
});
