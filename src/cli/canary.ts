// `imds-analyzer canary start|stop|status`: asks the running daemon over its control socket
// (docs/canary.md). Before a start, this process proves on this kernel that the canary's
// programs load and rewrite requests exactly as meant (capture/canary-self-test.ts): where
// they cannot, `canary start` refuses with one line and nothing is attached.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { CanaryUnsupportedError } from '../capture/canary.js';
import { canarySelfTest } from '../capture/canary-self-test.js';
import { loadConfig } from '../config/index.js';
import { appFile } from '../daemon/app-files.js';
import { openLibbpf } from '../libbpf/libbpf.js';
import { canaryDuration, canaryHeaderLine } from '../logic/canary.js';
import { EXIT } from '../logic/exit-status.js';
import {
  type ActiveCanary,
  type CanaryTarget,
  type ControlRequest,
  type ControlResponse,
  controlResponseSchema,
  controlSocketPath,
} from '../model/canary.js';

const CONTROL_TIMEOUT_MS = 30_000;

function targetOf(values: { unit?: string; cgroup?: string; container?: string }): CanaryTarget | null | string {
  const given = [
    values.unit === undefined ? null : ({ kind: 'unit', name: values.unit } as const),
    values.cgroup === undefined ? null : ({ kind: 'cgroup', path: values.cgroup } as const),
    values.container === undefined ? null : ({ kind: 'container', id: values.container } as const),
  ].filter((target) => target !== null);
  if (given.length > 1) return 'give one of --unit, --cgroup, --container';
  return given[0] ?? null;
}

function ask(socketPath: string, request: ControlRequest): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(CONTROL_TIMEOUT_MS, () => socket.destroy(new Error('the daemon did not answer')));
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(controlResponseSchema.parse(JSON.parse(text)));
      } catch {
        reject(new Error('unreadable answer from the daemon'));
      }
    });
  });
}

function describe(canary: ActiveCanary): string {
  const k = canary.kernel;
  const alone = Object.entries(k)
    .filter(([name, value]) => name.startsWith('left_alone') && value > 0)
    .map(([name, value]) => `${name}=${value}`);
  return (
    `${canary.target}  cgroup ${canary.cgroup}  until ${canary.until}  ` +
    `sockets=${k.sockets ?? 0} refused=${k.refused ?? 0} passed_token=${k.passed_token ?? 0}` +
    (alone.length > 0 ? ` ${alone.join(' ')}` : '') +
    (canary.reattached > 0 ? ` reattached=${canary.reattached}` : '')
  );
}

export async function runCanaryCommand(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const usage = (problem: string) => {
    process.stderr.write(`imds-analyzer canary: ${problem}; see imds-analyzer canary --help\n`);
    return EXIT.usage;
  };
  if (action !== 'start' && action !== 'stop' && action !== 'status') return usage('start, stop or status?');
  let values: { unit?: string; cgroup?: string; container?: string; for?: string; config?: string };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        unit: { type: 'string' },
        cgroup: { type: 'string' },
        container: { type: 'string' },
        for: { type: 'string' },
        config: { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('imds-analyzer canary: root only (it changes what a workload gets from IMDS)\n');
    return EXIT.usage;
  }
  const target = targetOf(values);
  if (typeof target === 'string') return usage(target);
  const { stateDir } = loadConfig(values.config);
  let socketPath: string;
  try {
    socketPath = controlSocketPath(stateDir);
  } catch (err) {
    process.stderr.write(`imds-analyzer canary: ${(err as Error).message}\n`);
    return EXIT.config;
  }
  let request: ControlRequest;
  if (action === 'start') {
    if (target === null) return usage('canary start needs --unit, --cgroup or --container');
    const seconds = canaryDuration(values.for);
    if (typeof seconds === 'string') return usage(seconds);
    try {
      const libbpf = openLibbpf();
      await canarySelfTest(
        libbpf,
        appFile('bpf', 'imds_canary.bpf.o'),
        canaryHeaderLine(randomBytes(8).toString('hex')),
      );
    } catch (err) {
      const unsupported = err instanceof CanaryUnsupportedError;
      const reason = unsupported ? err.message : `self-test failed: ${(err as Error).message}`;
      process.stderr.write(`imds-analyzer canary: refused: ${reason}\n`);
      return unsupported ? EXIT.unavailable : EXIT.failed;
    }
    request = { command: 'start', target, seconds };
  } else if (action === 'stop') {
    request = { command: 'stop', target };
  } else {
    request = { command: 'status' };
  }
  let answer: ControlResponse;
  try {
    answer = await ask(socketPath, request);
  } catch (err) {
    process.stderr.write(
      `imds-analyzer canary: the service is not running or not answering (${socketPath}: ${(err as Error).message})\n`,
    );
    return EXIT.notRunning;
  }
  if (!answer.ok) {
    process.stderr.write(`imds-analyzer canary: refused: ${answer.message}\n`);
    return EXIT.failed;
  }
  process.stdout.write(`${answer.message}\n`);
  if (action === 'status') for (const canary of answer.canaries) process.stdout.write(`${describe(canary)}\n`);
  return EXIT.ok;
}
