// For random secrets embedded by every pattern (in argv,
// in an ancestor's argv, inside `sh -c` scripts quoted any way), and for random tokens that
// the daemon only learns from the wire (request cut into random segments), no output string
// holds any part of a secret, while the program name and the URL path stay readable.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RequestLine } from '../../src/model/log-line.js';
import type { Flow, PayloadRecord } from '../../src/model/records.js';
import { requestLine as contractLine } from '../helpers/request-line.js';
import { ConnectionTracker } from '../../src/logic/connections.js';
import { createKnownSecrets, formatConsoleLine, Redactor, requestMessage, visible } from '../../src/logging/index.js';

const URL_PATH = '/latest/meta-data/iam/info';
const URL = `http://169.254.169.254${URL_PATH}`;

/** A password-like value: printable ASCII with spaces and shell/URL metacharacters. */
const anySecret = fc.stringMatching(/^[\x20-\x7e]{10,40}$/).filter((s) => s.trim() === s && !s.startsWith('-'));
/** What fits where the pattern's own syntax ends the value (URL user info). */
const urlSecret = fc.stringMatching(/^[A-Za-z0-9._~+=!$&'()*,;%-]{10,40}$/);
const caseOf = (name: string, flips: readonly boolean[]) =>
  Array.from(name, (c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join('');

type Pattern = (secret: string, flips: boolean[]) => { argv: string[]; program: string; shows?: string };
const PATTERNS: Array<[string, Pattern, fc.Arbitrary<string>]> = [
  [
    '-H Authorization: Bearer',
    (s, f) => ({
      argv: ['curl', '-H', `${caseOf('authorization', f)}: Bearer ${s}`, URL],
      program: 'curl',
      shows: URL_PATH,
    }),
    anySecret,
  ],
  [
    '-H Authorization: Basic',
    (s) => ({ argv: ['curl', '-sH', `Authorization: Basic ${s}`, URL], program: 'curl', shows: URL_PATH }),
    anySecret,
  ],
  ['curl -u', (s) => ({ argv: ['curl', '-u', `admin:${s}`, URL], program: 'curl', shows: URL_PATH }), anySecret],
  [
    'curl --user',
    (s) => ({ argv: ['/usr/bin/curl', '--user', `admin:${s}`, URL], program: '/usr/bin/curl', shows: URL_PATH }),
    anySecret,
  ],
  [
    'URL user info',
    (s) => ({ argv: ['curl', `https://admin:${s}@example.com${URL_PATH}`], program: 'curl', shows: URL_PATH }),
    urlSecret,
  ],
  ['--password X', (s, f) => ({ argv: ['tool', caseOf('--password', f), s], program: 'tool' }), anySecret],
  ['--password=X', (s, f) => ({ argv: ['tool', `${caseOf('--password', f)}=${s}`], program: 'tool' }), anySecret],
  ['--token=X', (s) => ({ argv: ['tool', `--token=${s}`, URL], program: 'tool', shows: URL_PATH }), anySecret],
  ['--api-key X', (s) => ({ argv: ['tool', '--api-key', s], program: 'tool' }), anySecret],
  ['--client-secret X', (s) => ({ argv: ['tool', '--client-secret', s], program: 'tool' }), anySecret],
  ['--secret X', (s) => ({ argv: ['tool', '--secret', s], program: 'tool' }), anySecret],
  ['mysql -pX', (s) => ({ argv: ['mysql', '-h', 'db', `-p${s}`], program: 'mysql' }), anySecret],
  ['*_PASSWORD=', (s, f) => ({ argv: ['env', `${caseOf('DB_PASSWORD', f)}=${s}`, 'tool'], program: 'env' }), anySecret],
  ['*_SECRET=', (s) => ({ argv: ['env', `APP_SECRET=${s}`, 'tool'], program: 'env' }), anySecret],
  ['*_SECRET_KEY=', (s) => ({ argv: ['env', `DJANGO_SECRET_KEY=${s}`, 'tool'], program: 'env' }), anySecret],
  ['*_TOKEN=', (s) => ({ argv: ['env', `GITHUB_TOKEN=${s}`, 'tool'], program: 'env' }), anySecret],
  [
    'AWS_SESSION_TOKEN=',
    (s) => ({ argv: ['env', `AWS_SESSION_TOKEN=${s}`, 'aws', 's3', 'ls'], program: 'env' }),
    anySecret,
  ],
  [
    'AWS_SECRET_ACCESS_KEY=',
    (s, f) => ({ argv: ['env', `${caseOf('AWS_SECRET_ACCESS_KEY', f)}=${s}`, 'aws'], program: 'env' }),
    anySecret,
  ],
  [
    'aws configure set',
    (s) => ({ argv: ['aws', 'configure', 'set', 'aws_secret_access_key', s], program: 'aws' }),
    anySecret,
  ],
  [
    '-Daws.secretKey=',
    (s) => ({ argv: ['java', `-Daws.secretKey=${s}`, '-jar', 'app.jar'], program: 'java' }),
    anySecret,
  ],
  [
    '-Dcom.amazonaws.sdk...secretKey=',
    (s) => ({ argv: ['java', `-Dcom.amazonaws.sdk.ec2.secretKey=${s}`, '-jar', 'app.jar'], program: 'java' }),
    anySecret,
  ],
  [
    '--aws-secret-access-key X',
    (s) => ({ argv: ['aws', 's3', 'ls', '--aws-secret-access-key', s], program: 'aws' }),
    anySecret,
  ],
];

/** One word quoted for a shell script, in the given style. */
function quoted(word: string, style: 'single' | 'double' | 'bare'): string {
  if (style === 'bare' && /^[\w./:=@%+,-]+$/.test(word)) return word;
  if (style === 'double') return `"${word.replace(/["\\$`]/g, '\\$&')}"`;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

interface Placement {
  where: 'process' | 'ancestor' | 'script' | 'ancestor-script';
  quoting: 'single' | 'double' | 'bare';
  shell: string;
  before: string;
  after: string;
}

const placementArb: fc.Arbitrary<Placement> = fc.record({
  where: fc.constantFrom('process', 'ancestor', 'script', 'ancestor-script'),
  quoting: fc.constantFrom('single', 'double', 'bare'),
  shell: fc.constantFrom('sh', 'bash', '/bin/sh', 'dash'),
  before: fc.constantFrom('', 'cd /tmp; ', 'set -e\n', 'X=$(date) && '),
  after: fc.constantFrom('', ' | cat', '; echo done', ' && curl -s http://x/'),
});

function requestLine(processArgv: string[], ancestors: string[][], path = URL_PATH): RequestLine {
  const base = contractLine();
  return {
    ...base,
    imds_version: 'v2',
    request: { ...base.request, path, user_agent: null },
    // No field but argv names the program: the line must still show it.
    process: { ...base.process, comm: 'client', exe: '/usr/bin/client', argv: processArgv },
    ancestors: ancestors.map((argv, i) => ({ pid: 100 + i, comm: 'parent', exe: null, argv, uid: 0 })),
  };
}

function placed(argv: string[], p: Placement): { processArgv: string[]; ancestors: string[][] } {
  const script = `${p.before}${argv.map((w) => quoted(w, p.quoting)).join(' ')}${p.after}`;
  const shell = [p.shell, '-c', script];
  switch (p.where) {
    case 'process':
      return { processArgv: argv, ancestors: [['systemd']] };
    case 'ancestor':
      return { processArgv: ['child', '--fetch'], ancestors: [argv, ['systemd']] };
    case 'script':
      return { processArgv: shell, ancestors: [] };
    default:
      return { processArgv: ['curl', URL], ancestors: [shell, ['systemd']] };
  }
}

/** Every string the daemon writes for this line: the JSON line, its msg, the console line. */
function outputs(redactor: Redactor, line: RequestLine): { text: string; json: Record<string, unknown> } {
  const redacted = redactor.line(line);
  const text = [JSON.stringify(redacted), requestMessage(redacted), formatConsoleLine(redacted, new Date(0))].join(
    '\n',
  );
  return { text, json: JSON.parse(JSON.stringify(redacted)) as Record<string, unknown> };
}

/** No piece of the secret 8 characters or longer, in any escaping the outputs use. */
function expectNoPartOf(secret: string, text: string): void {
  const piece = Math.min(8, secret.length);
  for (let i = 0; i + piece <= secret.length; i++) {
    const part = secret.slice(i, i + piece);
    for (const form of new Set([part, JSON.stringify(part).slice(1, -1), visible(part, 1000)]))
      expect(text).not.toContain(form);
  }
}

describe('property: no secret in any output, the program and its shape stay', () => {
  for (const [name, pattern, secretArb] of PATTERNS) {
    it(name, () => {
      const redactor = new Redactor();
      fc.assert(
        fc.property(
          secretArb,
          fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
          placementArb,
          (secret, flips, placement) => {
            const { argv, program, shows } = pattern(secret, flips);
            const { processArgv, ancestors } = placed(argv, placement);
            const { text, json } = outputs(redactor, requestLine(processArgv, ancestors));
            expectNoPartOf(secret, text);
            expect(text).toContain(program);
            if (shows) expect(text).toContain(shows);
            expect((json.request as { path: string }).path).toBe(URL_PATH);
            expect(json.redacted).toEqual([placement.where.startsWith('ancestor') ? 'ancestors.argv' : 'process.argv']);
          },
        ),
        { numRuns: 150 },
      );
    });
  }
});

describe('property: a token IMDS accepted is cut wherever it appears later', () => {
  const flow: Flow = { cookie: 7n, family: 'ipv4', address: '169.254.169.254', port: 80 };
  // Every token shape the store learns: base64 (either alphabet), padded, 44 to 72 characters.
  const tokenArb = fc
    .tuple(fc.stringMatching(/^[A-Za-z0-9+/_-]{42,72}$/), fc.constantFrom('', '=', '=='))
    .map(([body, pad]) => body.slice(0, Math.floor((body.length + pad.length) / 4) * 4 - pad.length) + pad)
    .filter((t) => t.length >= 44);
  const embeddingArb = fc.constantFrom('positional', 'glued', 'script', 'ancestor', 'path', 'twice');

  it('any segmentation of the request, any embedding of the token', () => {
    fc.assert(
      fc.property(
        tokenArb,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        embeddingArb,
        fc.integer({ min: 0, max: 0xffffffff }),
        (token, flips, cuts, embedding, isn) => {
          const redactor = new Redactor(createKnownSecrets());
          const tracker = new ConnectionTracker(1_000_000n, 16, (value, uid) => redactor.rememberToken(value, uid));
          const request = `GET ${URL_PATH} HTTP/1.1\r\nHost: 169.254.169.254\r\n${caseOf('x-aws-ec2-metadata-token', flips)}: ${token}\r\nAccept: */*\r\n\r\n`;
          const bytes = new TextEncoder().encode(request);
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const to = Math.min(bytes.length, at + (cuts[i % cuts.length] ?? 1));
            const segment: PayloadRecord = {
              kind: 'payload',
              tsNs: BigInt(i),
              flow,
              owner: null,
              socketUid: 0,
              socketCgroupId: 0n,
              seq: (isn + at) >>> 0,
              streamStart: null,
              wireLength: to - at,
              bytes: bytes.subarray(at, to),
            };
            tracker.onPayload(segment);
            at = to;
          }
          const answered = (isn + bytes.length) >>> 0;
          tracker.onResponse({ kind: 'response', tsNs: 99n, flow, seq: 1, ack: answered, status: 200 });
          const observed = tracker.flushAll();
          expect(observed).toHaveLength(1);
          expect(JSON.stringify(observed, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(token);

          const argvs: Record<string, { processArgv: string[]; ancestors: string[][]; path?: string }> = {
            positional: { processArgv: ['python3', 'fetch.py', token], ancestors: [] },
            glued: { processArgv: ['python3', 'fetch.py', `--auth=v2:${token}:end`], ancestors: [] },
            script: { processArgv: ['sh', '-c', `python3 fetch.py "${token}" | cat`], ancestors: [] },
            ancestor: { processArgv: ['python3', 'fetch.py'], ancestors: [['my-script.sh', token], ['systemd']] },
            path: { processArgv: ['python3', 'fetch.py'], ancestors: [], path: `${URL_PATH}?t=${token}` },
            twice: { processArgv: ['python3', 'fetch.py', `${token},${token}`], ancestors: [] },
          };
          const chosen = argvs[embedding] ?? { processArgv: [], ancestors: [] };
          const { text } = outputs(redactor, requestLine(chosen.processArgv, chosen.ancestors, chosen.path));
          expectNoPartOf(token, text);
          expect(text).toContain('fetch.py');
          expect(text).toContain(URL_PATH);
        },
      ),
      { numRuns: 300 },
    );
  });
});
