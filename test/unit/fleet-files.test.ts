// The files shipped for fleets (packaging/fleet, installed under /usr/share/imds-analyzer):
// the CloudWatch agent fragments against the agent's own JSON schema and its timestamp rule,
// the verdict-only fragment's filter against real lines, the Fluent Bit configuration against
// the option names its plugins declare, the Logs Insights queries against the fields our lines
// really have, and the dashboard body and alarm against CloudWatch's rules and the metrics the
// verdict line's EMF members declare (read from the code that writes them).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvDraft04 from 'ajv-draft-04';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleBody } from '../../src/logging/sink.js';
import { ReportBuilder } from '../../src/logic/report/aggregate.js';
import { TokenlessCounts } from '../../src/logic/report/tokenless.js';
import { emfMembers, verdictFields } from '../../src/logic/report/verdict-line.js';
import {
  alarmViolations,
  type Dashboard,
  dashboardViolations,
  metricsInsightsSchemas,
  searchSchemas,
} from '../helpers/cloudwatch.js';
import { openTestSink } from '../helpers/test-sink.js';
import { flattenedFields, queryFieldNames } from '../helpers/insights.js';
import { requestLine as curlRequest } from '../helpers/request-line.js';
import { worstCaseRequestLine } from '../helpers/worst-line.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FLEET = join(REPO, 'packaging/fleet');
/** The agent's own schema, from its repository (test/fixtures/cloudwatch-agent/README.md: source, licence). */
const AGENT_SCHEMA = join(REPO, 'test/fixtures/cloudwatch-agent/schema.json');
const QUERIES = join(FLEET, 'insights-queries');

const dir = mkdtempSync(join(tmpdir(), 'imds-fleet-files-'));
const INSTANCE_ID = 'i-0123456789abcdef0';
/** Real lines and their raw text, as the sink writes them: the largest request line, a request
 * whose command line spells a verdict line's event field, and the verdict line of a NO host. */
let requestText = '';
let requestLine: Record<string, unknown> = {};
let spoofText = '';
let verdictText = '';
let verdictLine: Record<string, unknown> = {};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A host's verdict as the daemon computes it: one IMDSv1 caller (curl) answered 200. */
function noHostVerdict(): LifecycleBody<'verdict'> {
  const t0 = Date.parse('2026-11-30T00:00:00Z');
  const base = { hostname: 'web-1', instance_id: INSTANCE_ID, boot_id: 'b-1', pid: 7 };
  const builder = new ReportBuilder({ minObservedMs: 0 });
  builder.add({ ...base, time: t0, event: 'ready', uptime_ms: 5000 });
  builder.add({ ...base, time: t0 + 1000, ...curlRequest() });
  builder.add({ ...base, time: t0 + 3600_000, event: 'stats' });
  const tokenless = new TokenlessCounts();
  tokenless.add(t0 + 1000);
  const { event: _, ...body } = verdictFields(builder.result(), tokenless, {
    version: '0.1.0',
    pid: 7,
    instanceId: INSTANCE_ID,
    timeMs: t0 + 3600_000,
  });
  return body;
}

beforeAll(async () => {
  const sink = await openTestSink(dir, {
    identity: { instance_id: INSTANCE_ID, region: 'eu-west-1', boot_id: '0f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a098' },
  });
  const worst = worstCaseRequestLine();
  sink.request(worst);
  sink.request({ ...worst, process: { ...worst.process, argv: ['sh', '-c', 'echo ,"event":"verdict",'] } });
  sink.lifecycle('verdict', noHostVerdict());
  await sink.close();
  const file = readdirSync(dir).find((name) => name.endsWith('.log')) ?? '';
  [requestText = '', spoofText = '', verdictText = ''] = readFileSync(join(dir, file), 'utf8').trim().split('\n');
  requestLine = JSON.parse(requestText) as Record<string, unknown>;
  verdictLine = JSON.parse(verdictText) as Record<string, unknown>;
});

/** Every line (cloudwatch-agent.json), or the verdict lines alone with their EMF metrics. */
const AGENT_FRAGMENTS = ['cloudwatch-agent.json', 'cloudwatch-agent-verdicts.json'];
const agentConfig = (name = 'cloudwatch-agent.json') =>
  JSON.parse(readFileSync(join(FLEET, name), 'utf8')) as {
    logs: { logs_collected: { files: { collect_list: Array<Record<string, unknown>> } } };
  };

/** The patterns of strftime's date and time directives (each format adds its own for fractions). */
const DATE_TIME_DIRECTIVES: Record<string, string> = {
  '%Y': '\\d{4}',
  '%m': '\\d{2}',
  '%d': '\\d{2}',
  '%H': '\\d{2}',
  '%M': '\\d{2}',
  '%S': '\\d{2}',
};

/**
 * The regex the agent's translator makes of a timestamp_format (ruleTimestampFormat.go):
 * regex characters escaped, then each directive replaced by its pattern. Only the directives
 * a format may use here are known; any other fails the test.
 */
function agentTimestampRegex(format: string): RegExp {
  const directives: Record<string, string> = { ...DATE_TIME_DIRECTIVES, '%f': '\\d{1,9}' };
  const escaped = format.replace(/[\^.*?|[\](){}$]/g, (c) => `\\${c}`);
  const source = escaped.replace(/%-?[A-Za-z]/g, (d) => {
    const pattern = directives[d];
    if (pattern === undefined) throw new Error(`directive ${d} not modelled`);
    return pattern;
  });
  return new RegExp(`(${source})`);
}

describe('cloudwatch-agent.json', () => {
  it.each(AGENT_FRAGMENTS)("%s is valid against the agent's own schema", (name) => {
    expect(existsSync(AGENT_SCHEMA), AGENT_SCHEMA).toBe(true);
    const schema = JSON.parse(readFileSync(AGENT_SCHEMA, 'utf8')) as object;
    // A CommonJS module: its class is the default export's `default`.
    const ajv = new AjvDraft04.default({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const valid = validate(agentConfig(name));
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // The schema does reject what the agent does not know: it is not vacuous.
    const withFromBeginning = agentConfig(name);
    const entry = withFromBeginning.logs.logs_collected.files.collect_list[0] ?? {};
    entry.from_beginning = true;
    expect(validate(withFromBeginning)).toBe(false);
  });

  it('collects every rotated file into /imds-analyzer, one stream per instance and file, in UTC', () => {
    const list = agentConfig().logs.logs_collected.files.collect_list;
    expect(list).toEqual([
      {
        file_path: '/var/log/imds-analyzer/*.log',
        log_group_name: '/imds-analyzer',
        log_stream_name: '{instance_id}',
        // Without it a glob tails only the newest file.
        publish_multi_logs: true,
        timestamp_format: '%Y-%m-%dT%H:%M:%S.%fZ',
        timezone: 'UTC',
      },
    ]);
  });

  it("stamps a real line with its timestamp field: the agent's leftmost match", () => {
    const format = agentConfig().logs.logs_collected.files.collect_list[0]?.timestamp_format as string;
    const match = agentTimestampRegex(format).exec(requestText);
    expect(match?.[1]).toBe(requestLine.timestamp);
    // The Go layout the agent parses the match with ("2006-01-02T15:04:05.000Z") wants 3 digits.
    expect(requestLine.timestamp).toMatch(/\.\d{3}Z$/);
  });
});

describe('cloudwatch-agent-verdicts.json: the verdict lines alone, whose EMF members CloudWatch turns into metrics', () => {
  const entry = () => agentConfig('cloudwatch-agent-verdicts.json').logs.logs_collected.files.collect_list[0] ?? {};
  /** The agent's include filter (Go RE2; this expression means the same in JavaScript). */
  const filter = () => {
    const filters = entry().filters as Array<{ type: string; expression: string }>;
    expect(filters.map((f) => f.type)).toEqual(['include']);
    return new RegExp(filters[0]?.expression ?? '(?!)');
  };

  it('reads the same files into the same group and streams as the full fragment, only filtered', () => {
    const { filters: _, ...rest } = entry();
    expect(rest).toEqual(agentConfig().logs.logs_collected.files.collect_list[0]);
  });

  it("passes a real verdict line, not a request line, not one whose command line spells the verdict's event field", () => {
    expect(verdictLine.event).toBe('verdict');
    expect(filter().test(verdictText)).toBe(true);
    expect(filter().test(requestText)).toBe(false);
    // The spoof's argv holds the very text; JSON escapes its quotes, so the filter never sees it bare.
    expect(spoofText).toContain(',\\"event\\":\\"verdict\\",');
    expect(filter().test(spoofText)).toBe(false);
  });

  it('stamps a real verdict line with its timestamp field', () => {
    const format = entry().timestamp_format as string;
    expect(agentTimestampRegex(format).exec(verdictText)?.[1]).toBe(verdictLine.timestamp);
  });

  it('ships lines that are EMF documents of the namespace, dimension and metrics the code declares', () => {
    const directive = (verdictLine._aws as { CloudWatchMetrics: unknown[] }).CloudWatchMetrics[0];
    expect(directive).toEqual(emfMembers(INSTANCE_ID, 'NO', 1, 0, 0)._aws?.CloudWatchMetrics[0]);
    expect(verdictLine.InstanceId).toBe(INSTANCE_ID);
  });
});

/** The namespace, dimension set and metric names the verdict line's EMF members declare. */
function declaredMetrics(): { namespace: string; dimensions: string[]; metrics: string[] } {
  const [directive] = emfMembers(INSTANCE_ID, 'YES', 0, 0, 0)._aws?.CloudWatchMetrics ?? [];
  if (directive === undefined) throw new Error('the verdict line declares no metrics');
  expect(directive.Dimensions).toHaveLength(1);
  return {
    namespace: directive.Namespace,
    dimensions: directive.Dimensions[0] ?? [],
    metrics: directive.Metrics.map((m) => m.Name),
  };
}

describe('cloudwatch-dashboard.json', () => {
  const dashboard = () => JSON.parse(readFileSync(join(FLEET, 'cloudwatch-dashboard.json'), 'utf8')) as Dashboard;

  it("follows the dashboard body's structure (widgets, grid, properties of each type)", () => {
    expect(dashboardViolations(dashboard())).toEqual([]);
    expect(dashboard().widgets.map((w) => w.type)).toEqual(['text', 'metric', 'metric', 'log']);
  });

  it('the rules catch a broken body: not vacuous', () => {
    const broken = dashboard();
    const [, hosts, , log] = broken.widgets;
    if (!hosts || !log) throw new Error('the dashboard lost a widget');
    hosts.width = 30;
    hosts.type = 'graph';
    (log.properties as Record<string, unknown>).query = 'fields @message';
    broken.widgets.push({ type: 'metric', x: 0, y: 30, width: 6, height: 6, properties: { metrics: [] } });
    expect(dashboardViolations(broken)).toEqual([
      'widgets[1].type: graph is not one of metric, text, log, alarm, explorer',
      'widgets[1]: x 0 + width 30 exceeds the 24-column grid',
      "widgets[3].properties.query: a Logs Insights query starting with SOURCE 'log-group'",
      'widgets[4].properties.region: missing',
      'widgets[4].properties.metrics: no metric and no expression',
    ]);
  });

  it("graphs the verdict line's own metrics: hosts by verdict and IMDSv1 requests, by InstanceId", () => {
    const declared = declaredMetrics();
    const searched = searchSchemas(dashboard());
    expect(searched.length).toBeGreaterThan(0);
    for (const schema of searched) {
      expect(schema.namespace).toBe(declared.namespace);
      expect(schema.dimensions).toEqual(declared.dimensions);
      expect(declared.metrics).toContain(schema.metric);
    }
    const [hosts, requests] = dashboard().widgets.filter((w) => w.type === 'metric');
    expect(searchSchemas({ widgets: [hosts ?? { type: 'none' }] }).map((s) => s.metric)).toEqual(['Verdict']);
    expect(searchSchemas({ widgets: [requests ?? { type: 'none' }] }).map((s) => s.metric)).toContain('IMDSv1Requests');
  });

  it("counts hosts per answer with the verdict line's own values (0 YES, 1 NO, 2 UNKNOWN)", () => {
    const [, hosts] = dashboard().widgets;
    const metrics = (hosts?.properties ?? { metrics: [] }) as {
      metrics: Array<Array<{ expression?: string; label?: string }>>;
    };
    const counted = metrics.metrics
      .map(([m]) => ({ label: m?.label, value: /== (\d)\b/.exec(m?.expression ?? '')?.[1] }))
      .filter((m) => m.value !== undefined);
    const verdictValue = (answer: 'YES' | 'NO' | 'UNKNOWN') => emfMembers(INSTANCE_ID, answer, 0, 0, 0).Verdict;
    expect(counted).toEqual(
      (['YES', 'NO', 'UNKNOWN'] as const).map((answer) => ({ label: answer, value: String(verdictValue(answer)) })),
    );
  });

  it('its Logs Insights widget reads the log group the agent fragments write, and only fields a real verdict line has', () => {
    const log = dashboard().widgets.find((w) => w.type === 'log');
    const query = String(log?.properties?.query ?? '');
    const source = /^SOURCE '([^']+)'\s*\|/.exec(query);
    expect(source?.[1]).toBe(
      agentConfig('cloudwatch-agent-verdicts.json').logs.logs_collected.files.collect_list[0]?.log_group_name,
    );
    const body = query.slice(source?.[0].length ?? 0);
    expect(body).toContain('event = "verdict"');
    const fields = new Set(flattenedFields(verdictLine));
    // The program a NO host's line names first is its top IMDSv1 caller.
    expect(fields).toContain('imdsv1_programs.0');
    expect(queryFieldNames(body).filter((f) => !fields.has(f))).toEqual([]);
  });
});

describe('cloudwatch-alarm.json (aws cloudwatch put-metric-alarm --cli-input-json)', () => {
  const alarm = () => JSON.parse(readFileSync(join(FLEET, 'cloudwatch-alarm.json'), 'utf8')) as Record<string, unknown>;

  it("carries PutMetricAlarm's required members and nothing it does not know", () => {
    expect(alarmViolations(alarm())).toEqual([]);
    const { AlarmName: _, Metrics: __, ...incomplete } = alarm();
    expect(alarmViolations({ ...incomplete, Period: 60, Colour: 'red' })).toEqual([
      'AlarmName: missing',
      'Colour: not a PutMetricAlarm member',
      'neither MetricName, Namespace and Period nor Metrics',
    ]);
  });

  it("watches a metric of the verdict line's namespace and dimension across every instance", () => {
    const declared = declaredMetrics();
    const queried = metricsInsightsSchemas(alarm());
    expect(queried).toEqual([
      { namespace: declared.namespace, dimensions: declared.dimensions, metric: 'IMDSv1Requests' },
    ]);
    expect(declared.metrics).toContain('IMDSv1Requests');
    expect(alarm()).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 0 });
  });
});

/** Sections of a Fluent Bit classic-mode file: [NAME] then `Key value` lines. */
function fluentBitSections(text: string): Array<{ name: string; keys: Map<string, string> }> {
  const sections: Array<{ name: string; keys: Map<string, string> }> = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[([A-Z]+)\]$/.exec(line);
    if (header) {
      sections.push({ name: header[1] ?? '', keys: new Map() });
      continue;
    }
    const kv = /^(\S+)\s+(.+)$/.exec(line);
    const section = sections.at(-1);
    if (!kv || !section) throw new Error(`not a section key: ${line}`);
    section.keys.set((kv[1] ?? '').toLowerCase(), kv[2] ?? '');
  }
  return sections;
}

/**
 * Option names as the plugins declare them (Fluent Bit's in_tail and out_cloudwatch_logs
 * config maps, the parser keys of flb_parser.c) plus the options every input or output has.
 * Only those used or likely are listed: an unknown name fails.
 */
const FLUENT_BIT_KEYS = {
  common_input: ['name', 'tag', 'mem_buf_limit', 'storage.type'],
  tail: [
    'path',
    'exclude_path',
    'parser',
    'db',
    'db.sync',
    'read_from_head',
    'buffer_chunk_size',
    'buffer_max_size',
    'skip_long_lines',
    'refresh_interval',
    'rotate_wait',
    'path_key',
  ],
  common_output: ['name', 'match', 'retry_limit', 'workers'],
  cloudwatch_logs: [
    'region',
    'log_group_name',
    'log_stream_name',
    'log_stream_prefix',
    'log_stream_template',
    'log_group_template',
    'log_key',
    'log_format',
    'role_arn',
    'auto_create_group',
    'log_retention_days',
    'endpoint',
  ],
  parser: ['name', 'format', 'time_key', 'time_format', 'time_keep', 'time_offset', 'types', 'decode_field_as'],
};

describe('fluent-bit.conf and fluent-bit-parsers.conf', () => {
  const main = fluentBitSections(readFileSync(join(FLEET, 'fluent-bit.conf'), 'utf8'));
  const parsers = fluentBitSections(readFileSync(join(FLEET, 'fluent-bit-parsers.conf'), 'utf8'));

  it('hold only options the plugins declare', () => {
    expect(main.map((s) => `${s.name}:${s.keys.get('name')}`)).toEqual(['INPUT:tail', 'OUTPUT:cloudwatch_logs']);
    const [input, output] = main;
    const unknown = (keys: Map<string, string> | undefined, known: string[]) =>
      [...(keys?.keys() ?? [])].filter((k) => !known.includes(k));
    expect(unknown(input?.keys, [...FLUENT_BIT_KEYS.common_input, ...FLUENT_BIT_KEYS.tail])).toEqual([]);
    expect(unknown(output?.keys, [...FLUENT_BIT_KEYS.common_output, ...FLUENT_BIT_KEYS.cloudwatch_logs])).toEqual([]);
    expect(parsers.map((s) => s.name)).toEqual(['PARSER']);
    expect(unknown(parsers[0]?.keys, FLUENT_BIT_KEYS.parser)).toEqual([]);
  });

  it('tail our files with our JSON parser into /imds-analyzer, one stream per instance_id', () => {
    const [input, output] = main;
    const parser = parsers[0]?.keys;
    expect(input?.keys.get('path')).toBe('/var/log/imds-analyzer/*.log');
    expect(input?.keys.get('parser')).toBe(parser?.get('name'));
    expect(output?.keys.get('match')).toBe(input?.keys.get('tag'));
    expect(output?.keys.get('log_group_name')).toBe('/imds-analyzer');
    // log_stream_template reads the record (record accessor syntax): the field must exist.
    const streamField = /^\$([a-z_]+)$/.exec(output?.keys.get('log_stream_template') ?? '')?.[1];
    expect(streamField).toBe('instance_id');
    expect(Object.keys(requestLine)).toContain(streamField);
    expect(parser?.get('format')).toBe('json');
    expect(parser?.get('time_key')).toBe('timestamp');
  });

  it('parse the time of a real line with the parser time format (strptime, %L for fractions)', () => {
    const format = parsers[0]?.keys.get('time_format') ?? '';
    const directives: Record<string, string> = { ...DATE_TIME_DIRECTIVES, '%L': '\\d+' };
    const source = format.replace(/[.]/g, '\\.').replace(/%[A-Za-z]/g, (d) => directives[d] ?? 'UNMODELLED');
    expect(requestLine.timestamp).toMatch(new RegExp(`^${source}$`));
  });
});

describe('Logs Insights queries', () => {
  const queries = readdirSync(QUERIES)
    .filter((name) => name.endsWith('.txt'))
    .map((name) => ({ name, text: readFileSync(join(QUERIES, name), 'utf8') }));

  it('cover the fleet questions of docs/fleet.md', () => {
    expect(queries.map((q) => q.name).sort()).toEqual([
      'imdsv1-by-instance-and-program.txt',
      'instances-daemon-never-started.txt',
      'instances-reporting.txt',
      'instances-with-lost-records.txt',
      'sdks-below-imdsv2-minimum.txt',
    ]);
  });

  it('start each command with a Logs Insights command and say what they answer', () => {
    for (const { name, text } of queries) {
      expect(text.trimStart().startsWith('#'), name).toBe(true);
      const commands = text
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
        .join(' ')
        .split('|')
        .map((part) => part.trim().split(/\s+/)[0]);
      for (const command of commands)
        expect(['fields', 'filter', 'stats', 'sort', 'limit', 'display'], `${name}: ${command}`).toContain(command);
    }
  });

  it('read only fields a real request line has, where they are about requests', () => {
    const fields = new Set(flattenedFields(requestLine));
    for (const { name, text } of queries.filter((q) => q.text.includes('event = "imds_request"'))) {
      expect(
        queryFieldNames(text).filter((f) => !fields.has(f)),
        name,
      ).toEqual([]);
    }
  });

  it('the field extraction sees what a query reads, not aliases, functions or strings', () => {
    expect(
      queryFieldNames(
        '# x.y\nfilter a = "b.c" and ispresent(d.e)\n| stats count(*) as n, max(f) as g by h | sort n desc',
      ),
    ).toEqual(['a', 'd.e', 'f', 'h']);
  });
});
