// The files shipped for fleets (packaging/fleet, installed under /usr/share/imds-analyzer):
// the CloudWatch agent fragment against the agent's own JSON schema and its timestamp rule,
// the Fluent Bit configuration against the option names its plugins declare, and the Logs
// Insights queries against the fields our request lines really have.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvDraft04 from 'ajv-draft-04';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogSink } from '../../src/logging/index.js';
import { flattenedFields, queryFieldNames } from '../helpers/insights.js';
import { worstCaseRequestLine } from '../helpers/worst-line.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FLEET = join(REPO, 'packaging/fleet');
/** The agent's own schema, from its repository (test/fixtures/cloudwatch-agent/README.md: source, licence). */
const AGENT_SCHEMA = join(REPO, 'test/fixtures/cloudwatch-agent/schema.json');
const QUERIES = join(FLEET, 'insights-queries');

const dir = mkdtempSync(join(tmpdir(), 'imds-fleet-files-'));
/** A real request line and its raw text, as the sink writes them. */
let requestText = '';
let requestLine: Record<string, unknown> = {};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const sink = await createLogSink({
    dir,
    rotation: { maxSizeMB: 1, frequency: 'daily', maxFiles: 3 },
    console: false,
    level: 'info',
    identity: { instance_id: 'i-0123456789abcdef0', boot_id: '0f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a098' },
  });
  sink.request(worstCaseRequestLine());
  await sink.close();
  const file = readdirSync(dir).find((name) => name.endsWith('.log')) ?? '';
  requestText = readFileSync(join(dir, file), 'utf8').trim();
  requestLine = JSON.parse(requestText) as Record<string, unknown>;
});

const agentConfig = () =>
  JSON.parse(readFileSync(join(FLEET, 'cloudwatch-agent.json'), 'utf8')) as {
    logs: { logs_collected: { files: { collect_list: Array<Record<string, unknown>> } } };
  };

/**
 * The regex the agent's translator makes of a timestamp_format (ruleTimestampFormat.go):
 * regex characters escaped, then each directive replaced by its pattern. Only the directives
 * a format may use here are known; any other fails the test.
 */
function agentTimestampRegex(format: string): RegExp {
  const directives: Record<string, string> = {
    '%Y': '\\d{4}',
    '%m': '\\d{2}',
    '%d': '\\d{2}',
    '%H': '\\d{2}',
    '%M': '\\d{2}',
    '%S': '\\d{2}',
    '%f': '\\d{1,9}',
  };
  const escaped = format.replace(/[\^.*?|[\](){}$]/g, (c) => `\\${c}`);
  const source = escaped.replace(/%-?[A-Za-z]/g, (d) => {
    const pattern = directives[d];
    if (pattern === undefined) throw new Error(`directive ${d} not modelled`);
    return pattern;
  });
  return new RegExp(`(${source})`);
}

describe('cloudwatch-agent.json', () => {
  it("is valid against the agent's own schema", () => {
    expect(existsSync(AGENT_SCHEMA), AGENT_SCHEMA).toBe(true);
    const schema = JSON.parse(readFileSync(AGENT_SCHEMA, 'utf8')) as object;
    // A CommonJS module: its class is the default export's `default`.
    const ajv = new AjvDraft04.default({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const valid = validate(agentConfig());
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // The schema does reject what the agent does not know: it is not vacuous.
    const withFromBeginning = agentConfig();
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
    const directives: Record<string, string> = {
      '%Y': '\\d{4}',
      '%m': '\\d{2}',
      '%d': '\\d{2}',
      '%H': '\\d{2}',
      '%M': '\\d{2}',
      '%S': '\\d{2}',
      '%L': '\\d+',
    };
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
