// CloudWatch's embedded metric format, as rules a document is checked against (written from
// the format's specification, CloudWatch_Embedded_Metric_Format_Specification, in our words).
// Returns every rule a document breaks; an empty list means CloudWatch extracts its metrics.

/** The units a metric definition may name (CloudWatch's StandardUnit). */
const UNITS = new Set([
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
]);
const MAX_DIMENSIONS_PER_SET = 30;
const MAX_METRICS_PER_DIRECTIVE = 100;
const MAX_VALUES_PER_METRIC = 100;
const MAX_DIMENSION_VALUE_CHARS = 1024;
/** A CloudWatch Logs event; the EMF document is one. Kept at the older, smaller limit. */
const MAX_EVENT_BYTES = 256 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const onlyKeys = (v: Record<string, unknown>, allowed: string[]) => Object.keys(v).filter((k) => !allowed.includes(k));

export function emfViolations(text: string): string[] {
  const problems: string[] = [];
  if (Buffer.byteLength(text) > MAX_EVENT_BYTES) problems.push(`event larger than ${MAX_EVENT_BYTES} bytes`);
  let root: unknown;
  try {
    // The event is the JSON object alone: nothing before or after it.
    root = JSON.parse(text);
  } catch {
    return [...problems, 'not one JSON value'];
  }
  if (!isObject(root)) return [...problems, 'the root is not an object'];
  const meta = root._aws;
  if (!isObject(meta)) return [...problems, '_aws: missing or not an object'];
  const timestamp = meta.Timestamp;
  if (typeof timestamp !== 'number' || !Number.isInteger(timestamp) || timestamp < 0)
    problems.push('_aws.Timestamp: not milliseconds since the epoch');
  const directives = meta.CloudWatchMetrics;
  if (!Array.isArray(directives)) return [...problems, '_aws.CloudWatchMetrics: not an array'];
  directives.forEach((directive: unknown, i) => {
    const at = `_aws.CloudWatchMetrics[${i}]`;
    if (!isObject(directive)) {
      problems.push(`${at}: not an object`);
      return;
    }
    for (const extra of onlyKeys(directive, ['Namespace', 'Dimensions', 'Metrics']))
      problems.push(`${at}.${extra}: not a member the format defines`);
    const ns = directive.Namespace;
    if (typeof ns !== 'string' || ns.length < 1 || ns.length > 255 || ns.startsWith('AWS/'))
      problems.push(`${at}.Namespace: 1..255 characters, not under AWS/`);
    const sets = directive.Dimensions;
    if (!Array.isArray(sets)) problems.push(`${at}.Dimensions: not an array of dimension sets`);
    else
      sets.forEach((set: unknown, j) => {
        if (!Array.isArray(set) || set.length > MAX_DIMENSIONS_PER_SET) {
          problems.push(`${at}.Dimensions[${j}]: not an array of at most ${MAX_DIMENSIONS_PER_SET} names`);
          return;
        }
        for (const name of set) {
          const value = typeof name === 'string' ? root[name] : undefined;
          if (typeof value !== 'string' || value.length === 0 || value.length > MAX_DIMENSION_VALUE_CHARS)
            problems.push(`${at}.Dimensions[${j}]: ${String(name)} names no string member at the root`);
        }
      });
    const metrics = directive.Metrics;
    if (!Array.isArray(metrics) || metrics.length > MAX_METRICS_PER_DIRECTIVE) {
      problems.push(`${at}.Metrics: not an array of at most ${MAX_METRICS_PER_DIRECTIVE} definitions`);
      return;
    }
    metrics.forEach((metric: unknown, k) => {
      const mat = `${at}.Metrics[${k}]`;
      if (!isObject(metric)) {
        problems.push(`${mat}: not an object`);
        return;
      }
      for (const extra of onlyKeys(metric, ['Name', 'Unit', 'StorageResolution']))
        problems.push(`${mat}.${extra}: not a member the format defines`);
      const name = metric.Name;
      if (typeof name !== 'string' || name.length < 1 || name.length > 255) {
        problems.push(`${mat}.Name: 1..255 characters`);
        return;
      }
      if (metric.Unit !== undefined && !UNITS.has(String(metric.Unit)))
        problems.push(`${mat}.Unit: ${String(metric.Unit)} is no CloudWatch unit`);
      if (metric.StorageResolution !== undefined && metric.StorageResolution !== 1 && metric.StorageResolution !== 60)
        problems.push(`${mat}.StorageResolution: 1 or 60`);
      const value = root[name];
      const numbers = Array.isArray(value) ? value : [value];
      if (
        numbers.length === 0 ||
        numbers.length > MAX_VALUES_PER_METRIC ||
        !numbers.every((n) => typeof n === 'number' && Number.isFinite(n))
      )
        problems.push(
          `${mat}: the root member ${name} is not a number (or an array of at most ${MAX_VALUES_PER_METRIC})`,
        );
    });
  });
  return problems;
}
