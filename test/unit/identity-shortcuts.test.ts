// The report's shortcuts on the way to a program's identity give exactly what the full path
// gives: an argv that mayHoldSecret passes over has no secret span under any rule (so skipping
// the rules can never let a secret through), normalizeArg's pre-test changes no result, and a
// caller's identity and group key equal those of its fully redacted argv. Over generated argv
// made of secret-shaped words, the programs and options the rules know, and ordinary words.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeArg, normalizeArgByRules } from '../../src/logic/report/normalize.js';
import { type Caller, ProgramIdentities, programOf } from '../../src/logic/report/program.js';
import { mayHoldSecret, redactArgv, redactArgvInFull } from '../../src/logic/redact.js';

/** Words the rules react to (programs, flags, names, schemes) beside ordinary ones. */
const WORDS = [
  'curl',
  '/usr/bin/curl',
  'wget',
  'mysql',
  'mariadb-dump',
  'sshpass',
  'ssh',
  'docker',
  'login',
  'redis-cli',
  'openssl',
  'aws',
  'configure',
  'set',
  'sh',
  'bash',
  '/bin/sh',
  'python3',
  '/usr/bin/python3.11',
  'node',
  'env',
  'java',
  '-c',
  '-lc',
  '-u',
  '-U',
  '-p',
  '-a',
  '-k',
  '-P',
  '-H',
  '-sH',
  '-s',
  '-m',
  '--user',
  '--proxy-user',
  '--pass',
  '--password',
  '--no-password',
  '--token',
  '--api-key',
  '--client-secret',
  '--header',
  '--job',
  '-passin',
  '-passout',
  '-kfile',
  'pass:hunter2',
  'env:PW',
  'PW=hunter2',
  'DB_PASSWORD=hunter2',
  'AWS_SESSION_TOKEN=abc',
  '-Daws.secretKey=abc',
  '--token=abc',
  '-phunter2',
  'admin:hunter2',
  'Authorization: Bearer abc',
  'X-aws-ec2-metadata-token: abc',
  'https://admin:hunter2@example.com/x',
  'http://169.254.169.254/latest/meta-data/instance-id',
  'aws_secret_access_key',
  '/opt/app/worker.py',
  '/tmp/tmp.Ab12/run.sh',
  '/var/tmp/upload.1234',
  'deadbeefdeadbeefdeadbeef',
  '123e4567-e89b-12d3-a456-426614174000',
  '100001',
  '42',
  '',
  ' ',
  'x',
];
/** Words joined as a shell reads them. */
const scriptArb = fc
  .array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 6 })
  .map((words) => words.map((w) => (/^[\w./:=@%+,-]+$/.test(w) ? w : `'${w}'`)).join(' '));
const wordArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: scriptArb },
);
const argvArb = fc.oneof(
  fc.array(wordArb, { minLength: 1, maxLength: 7 }),
  // A shell running a script: its secrets are found in the script's words.
  fc
    .tuple(fc.constantFrom('sh', 'bash', '/bin/sh', 'dash'), fc.constantFrom('-c', '-lc', '-ec'), scriptArb)
    .map((argv) => [...argv]),
);

describe('mayHoldSecret', () => {
  it('passes over only argv in which no rule finds a secret', () => {
    let withSecrets = 0;
    fc.assert(
      fc.property(argvArb, (argv) => {
        const full = redactArgvInFull(argv);
        if (full.redacted) {
          withSecrets++;
          expect(mayHoldSecret(argv)).toBe(true);
        }
        expect(redactArgv(argv)).toEqual(full);
      }),
      { numRuns: 3000 },
    );
    // The property is not empty: many generated argv hold a secret the rules cut.
    expect(withSecrets).toBeGreaterThan(300);
  });
});

describe('normalizeArg', () => {
  const pieceArb = fc.constantFrom(
    '/tmp/',
    '/var/tmp/',
    '/run/user/1000/',
    '/dev/shm/',
    'abcdef',
    '0123',
    '9',
    '-',
    '.',
    ':',
    'x',
    ' ',
    'A',
  );
  it('with its pre-test equals every rule applied', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(pieceArb, { maxLength: 12 }).map((p) => p.join('')),
          fc.string({ maxLength: 40 }),
          wordArb,
        ),
        (arg) => {
          expect(normalizeArg(arg)).toBe(normalizeArgByRules(arg));
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('program identity', () => {
  it("equals the identity of the caller's fully redacted argv, and so does the group key", () => {
    const identities = new ProgramIdentities();
    fc.assert(
      fc.property(argvArb, fc.array(argvArb, { maxLength: 3 }), (argv, ancestorArgvs) => {
        const caller: Caller = { exe: '/usr/bin/x', comm: 'x', argv, ancestorArgvs, unit: 'a.service' };
        const found = identities.programOf(caller);
        const full = programOf(
          redactArgvInFull(argv).argv,
          ancestorArgvs.map((a) => redactArgvInFull(a).argv),
        );
        expect(found && { script: found.script, command: found.command, key: found.key }).toEqual({
          script: full.script,
          command: full.command,
          key: full.key,
        });
        expect(identities.keyOf('imdsv1', caller, found)).toBe(identities.keyOf('imdsv1', caller, full));
      }),
      { numRuns: 3000 },
    );
  });
});
