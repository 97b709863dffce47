// The report's fixtures, written by the code: each is a history of typed contract values
// (ready, request, stats, stopping) that the daemon's own log sink writes, at fixed times,
// into test/fixtures/report/verdict/<name>/ (and the state file `status` reads, through the
// daemon's status writer). `npm run fixtures:report` rewrites them and
// test/unit/report-fixtures-written.test.ts checks that the committed files are exactly what
// this writes. Most are a clean day with one thing wrong; a fixture whose lines are cut or
// written as an older daemon did says so in its name (corrupt-, legacy-).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createLogSink, type LifecycleEvent, type LogSink } from '../../src/logging/index.js';
import type { LifecycleBody } from '../../src/logging/sink.js';
import { classifyRequest } from '../../src/logic/classify.js';
import type { HttpRequestRecord } from '../../src/logic/http-request.js';
import { sdkFromUserAgent } from '../../src/logic/sdk.js';
import type { ActiveCanary, TargetState } from '../../src/model/canary.js';
import type { Counters, DaemonDescription, RequestLine, StatusDocument } from '../../src/model/log-line.js';
import { STATUS_FILE_NAME, writeStatusFile } from '../../src/state/status-file.js';
import { requestLine } from './request-line.js';

const T0 = Date.parse('2026-11-20T00:00:00Z');
const MIN = 60_000;
const H = 3600_000;
/** Seconds after the kernel started that a daemon started by the boot is ready. */
const EARLY_UPTIME_MS = 6400;

/** One line of a fixture: when the sink writes it, and what it writes. */
export interface Entry {
  atMs: number;
  write: (sink: LogSink) => void;
}

interface Boot {
  boot_id: string;
  entries: Entry[];
}

export interface Fixture {
  hostname: string;
  instance_id: string | null;
  boots: Boot[];
  /** How the lines are stored: as the daemon writes them, gzip-rotated, or a CloudWatch Logs export object. */
  form?: 'log' | 'gzip' | 'export';
  /** A change to the written text, for fixtures that are corrupt by design. */
  damage?: (text: string) => string;
}

/** What a counter line's counters differ in from a daemon that lost nothing. */
interface CounterChange {
  kernel?: Record<string, number>;
  streams?: Partial<Counters['streams']>;
  decode_errors?: number;
  record_errors?: number;
  drain_errors?: number;
  lines_not_written?: number;
}

export function counters(change: CounterChange & { requests_summarised?: number } = {}): Counters {
  return {
    requests: { v1: 0, v2: 2, unknown: 0 },
    kernel: { events_lost: 0, perf_buffer_lost: 0, parse_errors: 0, process_events_lost: 0, ...change.kernel },
    decode_errors: change.decode_errors ?? 0,
    record_errors: change.record_errors ?? 0,
    drain_errors: change.drain_errors ?? 0,
    status_write_errors: 0,
    streams: {
      joined_mid_stream: 0,
      holes_skipped: 0,
      hole_bytes: 0,
      bytes_skipped: 0,
      responses_unmatched: 0,
      responses_retransmitted: 0,
      ...change.streams,
    },
    not_imds_records: 0,
    tracked_connections: 0,
    ...(change.requests_summarised === undefined ? {} : { requests_summarised: change.requests_summarised }),
    lines_written: 2,
    lines_not_written: change.lines_not_written ?? 0,
    write_errors: 0,
  };
}

function description(pid: number): DaemonDescription {
  return {
    kernel_release: '6.18.0',
    libbpf_version: '1.1',
    buffer: 'ringbuf',
    cgroup_root: '/sys/fs/cgroup',
    programs: ['imds_connect4', 'imds_sendmsg'],
    program_ids: { imds_connect4: 41, imds_sendmsg: 42 },
    version: '0.1.0',
    pid,
    log_dir: '/var/log/imds-analyzer',
  };
}

function lifecycle<E extends LifecycleEvent>(atMs: number, event: E, fields: LifecycleBody<E>): Entry {
  return { atMs, write: (sink) => sink.lifecycle(event, fields) };
}

const ready = (atMs: number, pid: number, over: Partial<LifecycleBody<'ready'>> = {}): Entry =>
  lifecycle(atMs, 'ready', {
    ...description(pid),
    ...counters(),
    uptime_ms: EARLY_UPTIME_MS,
    startup_ms: { modules: 40, config: 60, bpf_attached: 120, ready: 125, log_sink: 130 },
    capture_continued: false,
    capture_gap: 'fresh_start',
    ...over,
  });

/** The fixtures' daemons write a stats line a day (statsIntervalSeconds 86400) unless `intervalS` says otherwise. */
const stats = (atMs: number, pid: number, change?: Parameters<typeof counters>[0], intervalS = 86_400): Entry =>
  lifecycle(atMs, 'stats', { ...description(pid), ...counters(change), interval_s: intervalS });

const stopping = (atMs: number, pid: number, shutdown: boolean, change?: CounterChange): Entry =>
  lifecycle(atMs, 'stopping', {
    ...description(pid),
    ...counters(change),
    signal: 'SIGTERM',
    system_shutdown: shutdown,
  });

/** `requests` IMDSv1 calls by the clean day's program, counted into one summary line written at `atMs`. */
function summary(atMs: number, pid: number, requests: number): Entry {
  const { process: proc, ancestors, unit, container, sdk } = requestLine();
  return lifecycle(atMs, 'summary', {
    pid,
    imds_version: 'v1',
    aws_api: true,
    process: { comm: proc.comm, exe: proc.exe, argv: proc.argv, uid: proc.uid, user: proc.user },
    ancestors,
    unit,
    container,
    sdk,
    from: new Date(atMs - 5 * MIN).toISOString(),
    to: new Date(atMs - 20_000).toISOString(),
    requests,
    statuses: [{ status: 200, requests }],
    paths: [{ path: '/latest/meta-data/iam/security-credentials/', requests }],
    paths_unlisted: 0,
    fallbacks: 0,
  });
}

/** An IMDSv2 call by the AWS CLI (what a host that is ready for HttpTokens=required makes). */
function request(atMs: number, over: Partial<RequestLine> = {}): Entry {
  const base = requestLine();
  const line: RequestLine = {
    ...base,
    imds_version: 'v2',
    request: { ...base.request, path: '/latest/meta-data/placement/region', user_agent: 'aws-cli/2.15.0' },
    process: {
      ...base.process,
      pid: 2400,
      tid: 2400,
      comm: 'aws',
      exe: '/usr/local/bin/aws',
      argv: ['aws', 'ec2', 'describe-tags'],
      cmdline: 'aws ec2 describe-tags',
    },
    unit: 'tag-sync.service',
    cgroup: '/system.slice/tag-sync.service',
    sdk: { name: 'aws-cli', version: '2.15.0', min_imdsv2_version: '2.0.0', supports_imdsv2: true },
    connection: { cookie: String(atMs), request_index: 0, start_seq: 1, resume_seq: null },
    request_time: new Date(atMs).toISOString(),
    ...over,
  };
  return { atMs, write: (sink) => sink.request(line) };
}

/** The caller fields of a request line (the test helper's curl under cloud-init). */
function requestCallerOf(line: RequestLine): Partial<RequestLine> {
  const { request, process: proc, ancestors, unit, cgroup, sdk } = line;
  return { request, process: proc, ancestors, unit, cgroup, sdk };
}

/** A request whose request line was cut inside its path (`GET /lat`, then a hole), classified as the daemon does (or `awsApi` as an older one did). */
function cutRequest(atMs: number, awsApi?: boolean): Entry {
  const record: HttpRequestRecord = {
    method: 'GET',
    path: '/lat',
    httpVersion: null,
    requestLineValid: false,
    headerBlockComplete: false,
    hasTokenHeader: false,
    hasTokenTtlHeader: false,
    hasForwardedFor: false,
    canaryHeader: false,
    userAgent: null,
    headerCount: 0,
    streamOffset: 0,
    truncated: [],
  };
  const { imds_version, aws_api, token_request } = classifyRequest(record);
  const base = requestLine();
  return request(atMs, {
    imds_version,
    aws_api: awsApi ?? aws_api,
    request: { ...base.request, path: record.path, token_request, user_agent: null },
    sdk: null,
    response: null,
  });
}

/** A canary from `fromMs` for `hours`, as the daemon's canary service describes it. */
function canaryOf(
  target: string,
  cgroup: string,
  fromMs: number,
  hours: number,
  kernel: Record<string, number>,
): ActiveCanary {
  return {
    target,
    mode: 'required',
    cgroup,
    started_at: new Date(fromMs).toISOString(),
    until: new Date(fromMs + hours * H).toISOString(),
    kernel,
    reattached: 0,
  };
}

const NO_CANARY_COUNTS = { sockets: 0, refused: 0, passed_token: 0, left_alone_long: 0 };

/** A canary's start, its target's states (at ms), and its end (reason, final counters). */
function canaryRun(
  canary: ActiveCanary,
  states: Array<[number, TargetState]>,
  end: { atMs: number; reason: string; kernel: Record<string, number>; reattached: number },
): Entry[] {
  const startMs = Date.parse(canary.started_at);
  const at = (i: number) => (i === 0 ? 'start' : i === states.length - 1 ? 'end' : 'change');
  return [
    lifecycle(startMs, 'canary', { action: 'started', ...canary }),
    ...states.map(([atMs, state], i) =>
      lifecycle(atMs, 'canary_target', { target: canary.target, until: canary.until, at: at(i), ...state }),
    ),
    lifecycle(end.atMs, 'canary', {
      action: 'ended',
      ...canary,
      reason: end.reason,
      kernel: end.kernel,
      reattached: end.reattached,
    }),
  ];
}

/** systemd's state of a canary's unit, as `systemctl show` gives it. */
function systemdState(active_state: string, sub_state: string, result: string, n_restarts: number) {
  return { active_state, sub_state, result, n_restarts };
}

/** The canary fixtures' unit, and an old botocore (before IMDSv2) running in it. */
const APP_SYNC_UNIT = { unit: 'app-sync.service', cgroup: '/system.slice/app-sync.service' };
const APP_SYNC_BOTOCORE: Partial<RequestLine> = {
  ...APP_SYNC_UNIT,
  request: { ...requestLine().request, user_agent: 'Botocore/1.12.0 Python/3.6.8' },
  process: {
    ...requestLine().process,
    pid: 3100,
    comm: 'python3',
    exe: '/usr/bin/python3.6',
    argv: ['python3', '/opt/app/sync.py'],
    cmdline: 'python3 /opt/app/sync.py',
  },
  sdk: sdkFromUserAgent('Botocore/1.12.0 Python/3.6.8'),
};

/** A tokenless request a canary made IMDS refuse. */
function refused(atMs: number, canary: ActiveCanary, over: Partial<RequestLine>): Entry {
  return request(atMs, {
    imds_version: 'v1',
    response: { status: 401 },
    canary: { target: canary.target, mode: 'required', until: canary.until },
    ...over,
  });
}

const HOST = { hostname: 'ip-10-0-1-5', instance_id: 'i-0123456789abcdef0' };
const PID = 321;

/** A boot seen from its start, 25 h, two IMDSv2 calls, nothing lost, stopped at shutdown; `change` goes on the first stats line. */
function cleanDay(change?: CounterChange, boot = 'b-1', startMs = T0): Boot {
  return {
    boot_id: boot,
    entries: [
      ready(startMs, PID),
      request(startMs + H),
      stats(startMs + 11 * H, PID, change),
      request(startMs + 20 * H),
      stats(startMs + 25 * H, PID, change),
      stopping(startMs + 25 * H + 1000, PID, true, change),
    ],
  };
}

const oneBoot = (boot: Boot, over: Partial<Fixture> = {}): Fixture => ({ ...HOST, boots: [boot], ...over });

/** The clean day with its entries changed. */
function cleanDayWith(edit: (entries: Entry[]) => Entry[]): Fixture {
  const day = cleanDay();
  return oneBoot({ ...day, entries: edit(day.entries) });
}

/** The clean day's first daemon stops (or crashes) at 10 h and a second one starts on the same boot. */
function restart(stop: 'stop' | 'crash', nextReadyMs: number, continued: boolean): Fixture {
  const second = 555;
  return oneBoot({
    boot_id: 'b-1',
    entries: [
      ready(T0, PID),
      request(T0 + H),
      stop === 'stop' ? stopping(T0 + 10 * H, PID, false) : stats(T0 + 10 * H, PID),
      ready(nextReadyMs, second, {
        uptime_ms: nextReadyMs - T0 + EARLY_UPTIME_MS,
        capture_continued: continued,
        capture_gap: continued ? null : 'maps_not_reused',
      }),
      request(T0 + 20 * H),
      stats(T0 + 25 * H, second),
      stopping(T0 + 25 * H + 1000, second, true),
    ],
  });
}

/** Boot b-1 seen from its start and ended as `end` says at 12 h; boot b-2 starts at 14 h, its daemon ready `uptimeMs` later. */
function twoBoots(end: 'shutdown' | 'stop' | 'crash', uptimeMs: number): Fixture {
  const first: Entry[] = [ready(T0, PID), request(T0 + H), stats(T0 + 11 * H, PID)];
  if (end !== 'crash') first.push(stopping(T0 + 12 * H, PID, end === 'shutdown'));
  const bootStart = T0 + 14 * H;
  const readyAt = bootStart + uptimeMs;
  return {
    ...HOST,
    boots: [
      { boot_id: 'b-1', entries: first },
      {
        boot_id: 'b-2',
        entries: [
          ready(readyAt, 400, { uptime_ms: uptimeMs }),
          request(bootStart + 20 * H),
          stats(bootStart + 25 * H, 400),
          stopping(bootStart + 25 * H + 1000, 400, true),
        ],
      },
    ],
  };
}

/** Cuts the first IMDSv1 line in half, as a crash in the middle of a write leaves it. */
function tearFirstV1Line(text: string): string {
  return text
    .split('\n')
    .map((line, i, lines) =>
      line.startsWith('{"level":40') && lines.findIndex((l) => l.startsWith('{"level":40')) === i
        ? line.slice(0, line.length / 2)
        : line,
    )
    .join('\n');
}

export const FIXTURES: Record<string, Fixture> = {
  clean: oneBoot(cleanDay()),
  'events-lost': oneBoot(cleanDay({ kernel: { events_lost: 2 } })),
  'perf-buffer-lost': oneBoot(cleanDay({ kernel: { perf_buffer_lost: 2 } })),
  'decode-errors': oneBoot(cleanDay({ decode_errors: 2 })),
  'record-errors': oneBoot(cleanDay({ record_errors: 2 })),
  'drain-errors': oneBoot(cleanDay({ drain_errors: 2 })),
  'parse-errors': oneBoot(cleanDay({ kernel: { parse_errors: 2 } })),
  'responses-unmatched': oneBoot(cleanDay({ streams: { responses_unmatched: 2 } })),
  'holes-skipped': oneBoot(cleanDay({ streams: { holes_skipped: 2 } })),
  'hole-bytes': oneBoot(cleanDay({ streams: { hole_bytes: 2 } })),
  'bytes-skipped': oneBoot(cleanDay({ streams: { bytes_skipped: 2 } })),
  'lines-not-written': oneBoot(cleanDay({ lines_not_written: 2 })),
  // Only the stopping line reports the loss: the last stats line said nothing yet.
  'lost-in-stopping': cleanDayWith((e) => [
    ...e.slice(0, -1),
    stopping(T0 + 25 * H + 1000, PID, true, { kernel: { events_lost: 1 } }),
  ]),
  // A loss between the stats line at 24 h (inside --until 25 h) and the next one at 26 h (outside).
  'lost-inside-until': cleanDayWith((e) => [
    ...e.slice(0, 2),
    stats(T0 + 24 * H, PID),
    stats(T0 + 26 * H, PID, { kernel: { events_lost: 1 } }),
    stopping(T0 + 26 * H + 1000, PID, true, { kernel: { events_lost: 1 } }),
  ]),
  'no-daemon-start': cleanDayWith((e) => e.slice(1)),
  'late-start': cleanDayWith((e) => [ready(T0, PID, { uptime_ms: 2 * H + 5 * MIN }), ...e.slice(1)]),
  'short-window': cleanDayWith((e) => e.slice(0, 3)),
  unclassified: cleanDayWith((e) => [
    ...e.slice(0, 4),
    request(T0 + 22 * H, { imds_version: 'unknown' }),
    ...e.slice(4),
  ]),
  'get-lat-prefix': cleanDayWith((e) => [...e.slice(0, 4), cutRequest(T0 + 22 * H), ...e.slice(4)]),
  // The same request as daemons before the fix wrote it: not the AWS API.
  'legacy-get-lat-prefix': cleanDayWith((e) => [...e.slice(0, 4), cutRequest(T0 + 22 * H, false), ...e.slice(4)]),
  'restart-continued': restart('stop', T0 + 10 * H + 2000, true),
  'restart-gap': restart('stop', T0 + 10 * H + 5 * MIN, false),
  'crash-gap': restart('crash', T0 + 10 * H + 2000, false),
  // Stopped (not for a shutdown) at the end of the logs: YES for what was seen, and a warning.
  'stopped-at-end': cleanDayWith((e) => [...e.slice(0, -1), stopping(T0 + 25 * H + 1000, PID, false)]),
  // The second daemon on the boot got the first one's pid again.
  'pid-reused': cleanDayWith((e) => [
    ...e.slice(0, 2),
    stopping(T0 + 10 * H, PID, false),
    ready(T0 + 12 * H, PID, { uptime_ms: 12 * H + EARLY_UPTIME_MS }),
    ...e.slice(3),
  ]),
  // The first daemon's lines were deleted (rotation): the second one says it continued a capture not in the logs.
  'rotated-out': oneBoot({
    boot_id: 'b-1',
    entries: [
      ready(T0 + 10 * H, 555, { uptime_ms: 10 * H, capture_continued: true, capture_gap: null }),
      request(T0 + 20 * H),
      stats(T0 + 36 * H, 555),
      stopping(T0 + 36 * H + 1000, 555, true),
    ],
  }),
  // A daemon writing a stats line each hour; the file with its lines from 8 h to 14 h was deleted.
  'deleted-middle': oneBoot({
    boot_id: 'b-1',
    entries: [
      ready(T0, PID),
      request(T0 + H),
      ...[...Array(25).keys()]
        .map((hour) => hour + 1)
        .filter((hour) => hour < 8 || hour > 14)
        .map((hour) => stats(T0 + hour * H, PID, {}, 3600)),
      stopping(T0 + 25 * H + 1000, PID, true),
    ],
  }),
  // The clean day's IMDSv1 program: one full line, then 40 more requests counted in a summary line.
  'summarised-v1': cleanDayWith((e) => [
    ...e.slice(0, 2),
    request(T0 + 2 * H, { imds_version: 'v1', ...requestCallerOf(requestLine()) }),
    summary(T0 + 2 * H + 5 * MIN + 20_000, PID, 40),
    ...e.slice(2),
  ]),
  // A daemon that counted requests into summaries crashed; the next one continued its capture.
  'summaries-lost': oneBoot({
    boot_id: 'b-1',
    entries: [
      ready(T0, PID),
      request(T0 + H),
      stats(T0 + 10 * H, PID, { requests_summarised: 5 }),
      ready(T0 + 10 * H + 2000, 555, {
        uptime_ms: 10 * H + 2000 + EARLY_UPTIME_MS,
        capture_continued: true,
        capture_gap: null,
      }),
      request(T0 + 20 * H),
      stats(T0 + 25 * H, 555),
      stopping(T0 + 25 * H + 1000, 555, true),
    ],
  }),
  'stop-then-later-boot': twoBoots('stop', EARLY_UPTIME_MS),
  'crash-without-restart': twoBoots('crash', EARLY_UPTIME_MS),
  'late-start-later-boot': twoBoots('shutdown', 20 * MIN),
  'two-boots': twoBoots('shutdown', EARLY_UPTIME_MS),
  // A canary on a unit refuses an old botocore twice and curl once; the unit restarts once (systemd's NRestarts, a new cgroup).
  'canary-refused': cleanDayWith((e) => {
    const canary = canaryOf('unit:app-sync.service', '/system.slice/app-sync.service', T0 + 2 * H, 2, NO_CANARY_COUNTS);
    const unitLine = APP_SYNC_UNIT;
    const botocore = APP_SYNC_BOTOCORE;
    return [
      ...e.slice(0, 2),
      ...canaryRun(
        canary,
        [
          [
            T0 + 2 * H,
            { cgroup_state: 'populated', recreated: 0, systemd: systemdState('active', 'running', 'success', 0) },
          ],
          [
            T0 + 2 * H + 5 * MIN,
            {
              cgroup_state: 'absent',
              recreated: 0,
              systemd: systemdState('activating', 'auto-restart', 'exit-code', 1),
            },
          ],
          [
            T0 + 2 * H + 6 * MIN,
            { cgroup_state: 'populated', recreated: 1, systemd: systemdState('active', 'running', 'exit-code', 1) },
          ],
          [
            T0 + 4 * H,
            { cgroup_state: 'populated', recreated: 1, systemd: systemdState('active', 'running', 'exit-code', 1) },
          ],
        ],
        { atMs: T0 + 4 * H, reason: 'expired', kernel: { ...NO_CANARY_COUNTS, sockets: 3, refused: 3 }, reattached: 1 },
      ).flatMap((entry, i) =>
        i === 1
          ? [
              entry,
              refused(T0 + 2 * H + 4 * MIN, canary, botocore),
              refused(T0 + 2 * H + 4 * MIN + 1000, canary, botocore),
              refused(T0 + 2 * H + 7 * MIN, canary, { ...unitLine, response: null }),
            ]
          : [entry],
      ),
      ...e.slice(2),
    ];
  }),
  // A canary on a unit through which requests with a token passed; the unit restarted, and the
  // old botocore's first request after the restart was made before the canary re-attached to
  // the new cgroup (no canary object, answered 200): escaped, so the canary is not safe.
  'canary-escaped': cleanDayWith((e) => {
    const canary = canaryOf('unit:app-sync.service', '/system.slice/app-sync.service', T0 + 2 * H, 1, NO_CANARY_COUNTS);
    const restartMs = T0 + 2 * H + 10 * MIN;
    const agent = 'Botocore/1.34.0 Python/3.11.2';
    const v2 = {
      ...APP_SYNC_BOTOCORE,
      request: { ...requestLine().request, user_agent: agent },
      sdk: sdkFromUserAgent(agent),
    };
    const [started, ...rest] = canaryRun(
      canary,
      [
        [
          T0 + 2 * H,
          { cgroup_state: 'populated', recreated: 0, systemd: systemdState('active', 'running', 'success', 0) },
        ],
        [
          restartMs + 450,
          { cgroup_state: 'populated', recreated: 1, systemd: systemdState('active', 'running', 'success', 1) },
        ],
        [
          T0 + 3 * H,
          { cgroup_state: 'populated', recreated: 1, systemd: systemdState('active', 'running', 'success', 1) },
        ],
      ],
      {
        atMs: T0 + 3 * H,
        reason: 'expired',
        kernel: { ...NO_CANARY_COUNTS, sockets: 2, passed_token: 2 },
        reattached: 1,
      },
    );
    return [
      ...e.slice(0, 2),
      started as Entry,
      request(T0 + 2 * H + MIN, v2),
      request(restartMs + 300, { ...APP_SYNC_BOTOCORE, imds_version: 'v1', response: { status: 200 } }),
      request(restartMs + 20 * MIN, v2),
      ...rest,
      ...e.slice(2),
    ];
  }),
  // A canary on a container through which only token requests passed: safe for it; the host is YES as before.
  'canary-safe': cleanDayWith((e) => {
    const id = 'c0ffee'.repeat(10).padEnd(64, '0');
    const canary = canaryOf(
      `container:${id.slice(0, 12)}`,
      `/system.slice/docker-${id}.scope`,
      T0 + 3 * H,
      1,
      NO_CANARY_COUNTS,
    );
    return [
      ...e.slice(0, 2),
      ...canaryRun(
        canary,
        [
          [T0 + 3 * H, { cgroup_state: 'populated', recreated: 0, systemd: null }],
          [T0 + 3 * H + 30 * MIN, { cgroup_state: 'populated', recreated: 0, systemd: null }],
        ],
        {
          atMs: T0 + 3 * H + 30 * MIN,
          reason: 'stopped',
          kernel: { ...NO_CANARY_COUNTS, sockets: 2, passed_token: 4 },
          reattached: 0,
        },
      ),
      ...e.slice(2),
    ];
  }),
  'corrupt-torn-v1-line': {
    ...cleanDayWith((e) => [...e.slice(0, 4), request(T0 + 22 * H, { imds_version: 'v1' }), ...e.slice(4)]),
    damage: tearFirstV1Line,
  },
};

/** The fleet: a host with an IMDSv1 caller, a lossy host without instance_id (rotated .gz), a clean host (CloudWatch Logs export). */
export const FLEET: Record<string, Fixture> = {
  'imds-analyzer.log': {
    hostname: 'ip-10-0-2-7',
    instance_id: 'i-0aaaaaaaaaaaaaaa1',
    boots: [
      (() => {
        const day = cleanDay();
        const v1 = request(T0 + 13 * H, {
          imds_version: 'v1',
          request: {
            ...requestLine().request,
            path: '/latest/meta-data/iam/security-credentials/',
            user_agent: 'Botocore/1.12.0 Python/3.6.8',
          },
          process: {
            ...requestLine().process,
            pid: 3100,
            comm: 'python3',
            exe: '/usr/bin/python3.6',
            argv: ['python3', '/opt/app/sync.py', '--batch', '4711'],
            cmdline: 'python3 /opt/app/sync.py --batch 4711',
          },
          unit: 'app-sync.service',
          sdk: sdkFromUserAgent('Botocore/1.12.0 Python/3.6.8'),
          response: { status: 404 },
        });
        return { ...day, entries: [...day.entries.slice(0, 3), v1, ...day.entries.slice(3)] };
      })(),
    ],
  },
  'ip-10-0-4-11.log.gz': {
    hostname: 'ip-10-0-4-11',
    instance_id: null,
    boots: [cleanDay({ kernel: { events_lost: 7 } })],
    form: 'gzip',
  },
  'export/0f1e2d3c-task/i-0bbbbbbbbbbbbbbb2/000000.gz': {
    hostname: 'ip-10-0-3-9',
    instance_id: 'i-0bbbbbbbbbbbbbbb2',
    boots: [cleanDay()],
    form: 'export',
  },
};

/** The lines the daemon's sink writes for a fixture's boots, one sink per boot, in order. */
export async function sinkText(fixture: Fixture): Promise<string> {
  let text = '';
  for (const boot of fixture.boots) {
    const dir = mkdtempSync(join(tmpdir(), 'report-fixture-'));
    try {
      let now = 0;
      const sink = await createLogSink({
        dir,
        rotation: { maxSizeMB: 100, frequency: 'daily', maxFiles: 2 },
        console: false,
        level: 'info',
        hostname: fixture.hostname,
        identity: { instance_id: fixture.instance_id, region: null, boot_id: boot.boot_id },
        now: () => now,
      });
      for (const entry of boot.entries) {
        now = entry.atMs;
        entry.write(sink);
      }
      await sink.close();
      for (const name of readdirSync(dir).sort()) text += readFileSync(join(dir, name), 'utf8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return fixture.damage ? fixture.damage(text) : text;
}

/** A fixture's file as stored: plain, gzip (mtime-free, so the bytes are the same every time) or an export object. */
async function storedBytes(fixture: Fixture): Promise<Buffer> {
  const text = await sinkText(fixture);
  if (fixture.form === 'gzip') return gzipSync(text);
  if (fixture.form === 'export') {
    const lines = text.split('\n').filter(Boolean);
    const exported = lines.map(
      (line) => `${new Date((JSON.parse(line) as { time: number }).time).toISOString()} ${line}`,
    );
    return gzipSync(`${exported.join('\n')}\n`);
  }
  return Buffer.from(text);
}

/**
 * The state file `status` reads, as the daemon's status writer writes it; LOG_DIR and the pid
 * are filled in by the test (test/unit/report-fixtures.test.ts).
 */
function statusFile(): Buffer {
  const status: StatusDocument = {
    boot_id: 'b-2',
    instance_id: null,
    ...description(0),
    log_dir: 'LOG_DIR',
    pid_start_ticks: 0,
    started_at: '2026-11-20T06:00:00.000Z',
    updated_at: '2026-11-20T11:00:00.000Z',
    counters: {
      ...counters({
        kernel: { events_lost: 4, process_events_lost: 5, process_store_failed: 0 },
        lines_not_written: 1,
      }),
      requests: { v1: 3, v2: 10, unknown: 1 },
      lines_written: 120,
    },
    canaries: [
      canaryOf('unit:app-sync.service', '/system.slice/app-sync.service', Date.parse('2026-11-20T10:00:00Z'), 2, {
        ...NO_CANARY_COUNTS,
        sockets: 3,
        refused: 2,
      }),
    ],
  };
  const dir = mkdtempSync(join(tmpdir(), 'status-fixture-'));
  try {
    writeStatusFile(dir, status);
    return readFileSync(join(dir, STATUS_FILE_NAME));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every fixture file the code writes, relative to test/fixtures/report, and its bytes. */
export async function fixtureFiles(): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const [name, fixture] of Object.entries(FIXTURES))
    files.set(`verdict/${name}/imds-analyzer.log`, await storedBytes(fixture));
  for (const [path, fixture] of Object.entries(FLEET)) files.set(`verdict/fleet/${path}`, await storedBytes(fixture));
  // What S3 puts at an export's prefix: not a log, and the report must skip it.
  files.set('verdict/fleet/export/aws-logs-write-test', Buffer.from('Permission Check Successful'));
  files.set('status/state.json', statusFile());
  return files;
}

/** Writes every fixture under `root` (the committed directory, or a temporary one to compare with it). */
export async function writeFixtures(root: string): Promise<void> {
  for (const [path, bytes] of await fixtureFiles()) {
    const file = join(root, path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, bytes);
  }
}
