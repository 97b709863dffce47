// Secrets never reach an output. Each pattern on its own (the secret goes, the
// argument and the program stay), what must stay untouched (ssh -p 22, the TTL header),
// and the store of known secrets (keyed hashes only, substrings, 6-hour lifetime, token-shaped
// values IMDS accepted only, a bounded share per uid).
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConnectionTracker } from '../../src/logic/connections.js';
import { HttpRequestParser, tokenValuesOf } from '../../src/logic/http-request.js';
import {
  isTokenShaped,
  KNOWN_SECRET_MAX_AGE_MS,
  KnownSecrets,
  MAX_KNOWN_SECRETS_PER_UID,
} from '../../src/logic/known-secrets.js';
import type { Flow, PayloadRecord } from '../../src/model/records.js';
import { redactArgv, redactLine, redactText } from '../../src/logic/redact.js';
import { shellCommands } from '../../src/logic/shell-words.js';
import { createKnownSecrets, Redactor } from '../../src/logging/index.js';

const R = '[REDACTED]';
const TOKEN = 'AQAEAHx9Jq0fakeTokenValueForTestsOnly1234567890abcdefg==';

describe('secret-shaped arguments', () => {
  const cases: Array<[string, string[], string[]]> = [
    [
      'Authorization: Bearer in -H',
      ['curl', '-H', 'Authorization: Bearer abc.def-1'],
      ['curl', '-H', `Authorization: Bearer ${R}`],
    ],
    [
      'Authorization: Basic, any case',
      ['curl', '-H', 'authorization:basic dXNlcjpwdw=='],
      ['curl', '-H', `authorization:basic ${R}`],
    ],
    [
      'the token header',
      ['curl', '-H', 'X-aws-ec2-metadata-token: AQAEsecret'],
      ['curl', '-H', `X-aws-ec2-metadata-token: ${R}`],
    ],
    ['curl -u user:password', ['curl', '-u', 'me:pw;1 x', 'http://h/'], ['curl', '-u', `me:${R}`, 'http://h/']],
    ['curl --user=, -u attached', ['curl', '--user=me:pw', '-ume:pw2'], ['curl', `--user=me:${R}`, `-ume:${R}`]],
    ['curl --user next argument', ['/usr/bin/curl', '--user', 'me:pw'], ['/usr/bin/curl', '--user', `me:${R}`]],
    [
      'URL user info',
      ['git', 'clone', 'https://me:pw@host/repo.git'],
      ['git', 'clone', `https://me:${R}@host/repo.git`],
    ],
    [
      '--password X / --password=X',
      ['p', '--password', 'a b;c', '--PASSWORD=x y'],
      ['p', '--password', R, `--PASSWORD=${R}`],
    ],
    [
      '--token, --api-key, --client-secret, --secret',
      ['p', '--token=t', '--api-key', 'k', '--client-secret', 'c', '--secret', 's'],
      ['p', `--token=${R}`, '--api-key', R, '--client-secret', R, '--secret', R],
    ],
    ['mysql -pX', ['mysql', '-uroot', '-ps3cret', 'db'], ['mysql', '-uroot', `-p${R}`, 'db']],
    [
      'sshpass -p X, then ssh -p 22',
      ['sshpass', '-p', 'pw', 'ssh', '-p', '22', 'h'],
      ['sshpass', '-p', R, 'ssh', '-p', '22', 'h'],
    ],
    [
      'assignments via env',
      [
        'env',
        'DB_PASSWORD=a',
        'X_SECRET=b',
        'X_SECRET_KEY=c',
        'GH_TOKEN=d',
        'AWS_SESSION_TOKEN=e',
        'aws_secret_access_key=f',
        'cmd',
      ],
      [
        'env',
        `DB_PASSWORD=${R}`,
        `X_SECRET=${R}`,
        `X_SECRET_KEY=${R}`,
        `GH_TOKEN=${R}`,
        `AWS_SESSION_TOKEN=${R}`,
        `aws_secret_access_key=${R}`,
        'cmd',
      ],
    ],
    [
      'a header name ending one argument, its value the next',
      ['curl', '-H', 'X-aws-ec2-metadata-token:', 'AQAEv'],
      ['curl', '-H', 'X-aws-ec2-metadata-token:', R],
    ],
    [
      'aws configure set',
      ['aws', 'configure', 'set', 'aws_secret_access_key', 'x'],
      ['aws', 'configure', 'set', 'aws_secret_access_key', R],
    ],
    [
      'aws configure set with a profile',
      ['aws', 'configure', 'set', 'prod.aws_session_token', 'x'],
      ['aws', 'configure', 'set', 'prod.aws_session_token', R],
    ],
    [
      '-Daws.secretKey, -Dcom.amazonaws.sdk...secretKey',
      ['java', '-Daws.secretKey=x', '-Dcom.amazonaws.sdk.secretKey=y', '-jar', 'a.jar'],
      ['java', `-Daws.secretKey=${R}`, `-Dcom.amazonaws.sdk.secretKey=${R}`, '-jar', 'a.jar'],
    ],
    [
      '--aws-secret-access-key X',
      ['aws', 's3', 'ls', '--aws-secret-access-key', 'x'],
      ['aws', 's3', 'ls', '--aws-secret-access-key', R],
    ],
  ];
  it.each(cases)('%s', (_name, argv, expected) => {
    expect(redactArgv(argv)).toEqual({ argv: expected, redacted: true });
  });

  const untouched: Array<[string, string[]]> = [
    ['ssh -p 22 and -p22', ['ssh', '-p', '22', '-p22', 'host']],
    [
      'the token TTL header',
      [
        'curl',
        '-X',
        'PUT',
        '-H',
        'X-aws-ec2-metadata-token-ttl-seconds: 21600',
        'http://169.254.169.254/latest/api/token',
      ],
    ],
    ['a flag that switches a secret off takes no value', ['psql', '--no-password', '-h', 'db']],
    ['-u outside curl', ['docker', 'run', '-u', '1000:1000', 'img']],
    ['mysql -p alone prompts; its next argument is the database', ['mysql', '-p', 'db']],
    [
      'names that only contain a secret word',
      ['p', '--token-ttl', '60', '--max-tokens=5', '--password-file', '/etc/pw'],
    ],
  ];
  it.each(untouched)('%s', (_name, argv) => {
    expect(redactArgv(argv)).toEqual({ argv, redacted: false });
  });

  it('inside sh -c scripts, with quotes, substitutions and nested shells', () => {
    const script =
      `A_TOKEN=t1 curl -u u:p2 -H "Authorization: Bearer b3" 'https://u:p4@h/path' && mysql -pp5; ` +
      `X=$(curl -s -X PUT http://h/latest/api/token); bash -c 'curl --password "p 6" http://x/' | env DB_PASSWORD=p7 cmd`;
    expect(redactArgv(['sh', '-c', script]).argv[2]).toBe(
      `A_TOKEN=${R} curl -u u:${R} -H "Authorization: Bearer ${R}" 'https://u:${R}@h/path' && mysql -p${R}; ` +
        `X=$(curl -s -X PUT http://h/latest/api/token); bash -c 'curl --password "${R}" http://x/' | env DB_PASSWORD=${R} cmd`,
    );
    expect(redactArgv(['/bin/bash', '-ec', 'curl -H "X-aws-ec2-metadata-token: $TOKEN" http://h/'])).toEqual({
      argv: ['/bin/bash', '-ec', `curl -H "X-aws-ec2-metadata-token: ${R}" http://h/`],
      redacted: true,
    });
  });

  it('free text: key=value, JSON keys, URL user info', () => {
    expect(redactText('GET /x?token=abc&b=1 {"SecretAccessKey": "k"} https://u:p@h/').text).toBe(
      `GET /x?token=${R}&b=1 {"SecretAccessKey": "${R}"} https://u:${R}@h/`,
    );
    expect(redactText('/latest/meta-data/iam/security-credentials/role')).toEqual({
      text: '/latest/meta-data/iam/security-credentials/role',
      redacted: false,
    });
  });
});

describe('shell words', () => {
  it('maps each character of a word back to the script', () => {
    const [first] = shellCommands(`a "b c"'d' e\\ f`);
    expect(first?.map((w) => w.text)).toEqual(['a', 'b cd', 'e f']);
    expect(first?.[1]?.at).toEqual([3, 4, 5, 8]);
  });
  it('cuts commands at separators and substitutions', () => {
    expect(shellCommands('a; b | c $(d e) "f $(g) h"').map((c) => c.map((w) => w.text))).toEqual([
      ['a'],
      ['b'],
      ['c'],
      ['d', 'e'],
      ['f '],
      ['g'],
      [' h'],
    ]);
  });
});

describe('known secrets', () => {
  const store = () => createKnownSecrets();

  it('finds a remembered token alone, inside a longer argument, and twice', () => {
    const known = store();
    known.remember(TOKEN, 0, 0);
    expect(redactArgv(['fetch.py', TOKEN], known).argv).toEqual(['fetch.py', R]);
    expect(redactArgv(['p', `--data=x${TOKEN}y`, `${TOKEN}${TOKEN}`], known).argv).toEqual(['p', `--data=x${R}y`, R]);
    expect(redactText(`token was ${TOKEN}.`, known).text).toBe(`token was ${R}.`);
    expect(redactText(TOKEN.slice(1), known).redacted).toBe(false);
  });

  it('keeps no plain text: only keyed hashes and short fingerprints', () => {
    const known = store();
    known.remember(TOKEN, 0, 0);
    const dump = inspect(known, { depth: 10, showHidden: true });
    expect(dump).not.toContain(TOKEN);
    expect(dump).not.toContain(TOKEN.slice(0, 12));
    // A second store (another daemon run) hashes under another key.
    const other = store();
    other.remember(TOKEN, 0, 0);
    expect(inspect(other, { depth: 10 })).not.toBe(dump);
  });

  it('forgets a token 6 hours after it was first seen', () => {
    const known = store();
    known.remember(TOKEN, 0, 1000);
    known.expire(1000 + KNOWN_SECRET_MAX_AGE_MS - 1);
    expect(known.find(TOKEN)).toEqual([[0, TOKEN.length]]);
    known.expire(1000 + KNOWN_SECRET_MAX_AGE_MS);
    expect(known.size).toBe(0);
    expect(known.find(TOKEN)).toEqual([]);
  });

  it('learns only token-shaped values: never a path, a unit, a word or junk', () => {
    const known = store();
    const notTokens = [
      '/usr/bin/python3',
      'amazon-ssm-agent.service',
      '/usr/lib/jvm/java-17-openjdk-amd64/bin/java',
      `${'A'.repeat(52)}.jar`,
      `${'A'.repeat(55)}`,
      'A'.repeat(76),
      'abc',
    ];
    for (const value of notTokens) {
      expect(isTokenShaped(value)).toBe(false);
      known.remember(value, 1000, 0);
    }
    expect(known.size).toBe(0);
    expect(isTokenShaped(TOKEN)).toBe(true);
    expect(isTokenShaped(Buffer.alloc(42, 0xfb).toString('base64url'))).toBe(true);
  });

  it('gives each uid its own bounded share: a uid filling it forgets only its own oldest', () => {
    const known = store();
    const tokenOf = (i: number) => `AQAE${String(i).padStart(52, '0')}`;
    known.remember(TOKEN, 0, 0);
    for (let i = 0; i < MAX_KNOWN_SECRETS_PER_UID + 10; i++) known.remember(tokenOf(i), 65534, i);
    expect(known.size).toBe(MAX_KNOWN_SECRETS_PER_UID + 1);
    expect(known.find(TOKEN)).toHaveLength(1);
    expect(known.find(tokenOf(9))).toEqual([]);
    expect(known.find(tokenOf(10))).toHaveLength(1);
  });

  it('tolerates a weak fingerprint: every candidate is confirmed by the keyed hash', () => {
    const known = new KnownSecrets({ keyedHash: (t) => t.split('').reverse().join(''), fingerprintBase: 256 });
    const token = `0123456789abcdefXYZ${'q'.repeat(25)}`;
    known.remember(token, 0, 0);
    expect(known.find(`xx${token}xx ${token.slice(0, -1)}Q`)).toEqual([[2, 2 + token.length]]);
  });
});

describe('the parser keeps token values beside the record, in no field of it', () => {
  const request = `GET /latest/meta-data/ HTTP/1.1\r\nHost: h\r\nX-aws-ec2-metadata-token: ${TOKEN}\r\n\r\n`;
  it('a whole header value is kept; the record holds no trace of it', () => {
    const parser = new HttpRequestParser(false);
    const records = parser.push({ kind: 'data', bytes: new TextEncoder().encode(request) });
    expect(records.map(tokenValuesOf)).toEqual([[TOKEN]]);
    expect(JSON.stringify(records)).not.toContain(TOKEN.slice(4, 20));
  });
  it('a header value cut by the end of the capture is not kept as a (wrong) secret', () => {
    const parser = new HttpRequestParser(false);
    const cutAt = request.indexOf(TOKEN) + 20;
    parser.push({ kind: 'data', bytes: new TextEncoder().encode(request.slice(0, cutAt)) });
    expect(parser.end().map(tokenValuesOf)).toEqual([[]]);
  });
});

describe('the tracker hands on a token only once IMDS accepted the request carrying it', () => {
  const flow: Flow = { cookie: 9n, family: 'ipv4', address: '169.254.169.254', port: 80 };
  const learnt = (status: number | null, uid: number) => {
    const seen: Array<[string, number]> = [];
    const tracker = new ConnectionTracker(1_000_000n, 16, (value, socketUid) => seen.push([value, socketUid]));
    const bytes = new TextEncoder().encode(
      `GET /latest/meta-data/nope HTTP/1.1\r\nX-aws-ec2-metadata-token: ${TOKEN}\r\n\r\n`,
    );
    const payload: PayloadRecord = {
      ...{ kind: 'payload', tsNs: 1n, flow, owner: null, socketUid: uid, socketCgroupId: 0n },
      ...{ seq: 1000, streamStart: 1000, wireLength: bytes.length, bytes },
    };
    tracker.onPayload(payload);
    if (status !== null)
      tracker.onResponse({ kind: 'response', tsNs: 2n, flow, seq: 1, ack: 1000 + bytes.length, status });
    tracker.takeCompleted(10_000_000n);
    return seen;
  };
  it('any answer but 401 (a valid token on a missing path gets 404); never on 401 or no answer', () => {
    expect(learnt(200, 0)).toEqual([[TOKEN, 0]]);
    expect(learnt(404, 1000)).toEqual([[TOKEN, 1000]]);
    expect(learnt(401, 1000)).toEqual([]);
    expect(learnt(null, 1000)).toEqual([]);
  });
});

describe('redactLine and the Redactor', () => {
  it('names the fields that changed and copies only them', () => {
    const line = {
      process: { comm: 'curl', argv: ['curl', '--token', 'x'] },
      ancestors: [{ argv: ['sh', '-c', 'curl --token x'] }, { argv: ['systemd'] }],
      request: { path: '/latest/meta-data/?password=p' },
      unit: 'a.service',
    };
    const r = redactLine(line);
    expect(r.redacted).toEqual(['process.argv', 'ancestors.argv', 'request.path']);
    expect(r.line.ancestors[1]).toBe(line.ancestors[1]);
    expect(line.process.argv[2]).toBe('x');
  });
  it('marks every request line; tokens seen are cut from lines, other values and stderr text', () => {
    let now = 0;
    const redactor = new Redactor(createKnownSecrets(), () => now);
    redactor.rememberToken(` ${TOKEN} `, 0);
    const line = (argv: string[]): { process: { argv: string[] }; redacted?: string[] } => ({ process: { argv } });
    expect(redactor.line(line(['a'])).redacted).toEqual([]);
    expect(redactor.line(line(['a', TOKEN]))).toEqual({ process: { argv: ['a', R] }, redacted: ['process.argv'] });
    expect(redactor.value({ message: `bad ${TOKEN}` })).toEqual({ message: `bad ${R}` });
    expect(redactor.text(`x${TOKEN}`)).toBe(`x${R}`);
    now = KNOWN_SECRET_MAX_AGE_MS;
    expect(redactor.value({ m: TOKEN })).toEqual({ m: TOKEN });
  });
});
