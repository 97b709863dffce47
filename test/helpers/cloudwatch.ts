// CloudWatch's rules for a dashboard body (PutDashboard, "Dashboard Body Structure and
// Syntax") and for an alarm (PutMetricAlarm), written in our words as checks that return every
// rule broken; and the metrics a body or an alarm names, read from its SEARCH expressions and
// Metrics Insights queries.

export interface Widget {
  type: string;
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  properties?: Record<string, unknown>;
}

export interface Dashboard {
  widgets: Widget[];
  [member: string]: unknown;
}

export interface NamedMetric {
  namespace: string;
  dimensions: string[];
  metric: string;
}

const WIDGET_TYPES = ['metric', 'text', 'log', 'alarm', 'explorer'];
const ROOT_MEMBERS = ['widgets', 'start', 'end', 'periodOverride', 'variables'];
const GRID_COLUMNS = 24;
const MAX_WIDGETS = 500;
const MAX_HEIGHT = 1000;
const METRIC_VIEWS = ['timeSeries', 'singleValue', 'gauge', 'bar', 'pie', 'table'];
const LOG_VIEWS = ['table', 'timeSeries', 'bar', 'pie'];
/** Metric math and metric ids: a lowercase letter first, then letters, digits and underscores. */
const ID = /^[a-z][a-zA-Z0-9_]*$/;
/** Words of metric math that are functions or operators, not ids of other expressions. */
const MATH_WORDS = new Set(['SEARCH', 'SUM', 'IF', 'AND', 'OR', 'AVG', 'MAX', 'MIN', 'FILL', 'METRICS', 'ABS']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown, min: number, max: number) =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

function metricWidgetViolations(at: string, p: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (typeof p.region !== 'string') problems.push(`${at}.region: missing`);
  if (p.view !== undefined && !METRIC_VIEWS.includes(String(p.view))) problems.push(`${at}.view: ${String(p.view)}`);
  if (p.period !== undefined && !(isCount(p.period, 1, 86400 * 7) && (p.period as number) % 60 === 0))
    problems.push(`${at}.period: a multiple of 60 seconds`);
  const metrics = Array.isArray(p.metrics) ? p.metrics : [];
  if (metrics.length === 0) {
    problems.push(`${at}.metrics: no metric and no expression`);
    return problems;
  }
  const ids = new Set<string>();
  const expressions: Array<[string, string]> = [];
  metrics.forEach((row: unknown, i) => {
    const mat = `${at}.metrics[${i}]`;
    if (!Array.isArray(row) || row.length === 0) {
      problems.push(`${mat}: not an array`);
      return;
    }
    const options = isObject(row.at(-1)) ? (row.at(-1) as Record<string, unknown>) : {};
    const id = options.id;
    if (id !== undefined) {
      if (typeof id !== 'string' || !ID.test(id)) problems.push(`${mat}.id: ${String(id)} is not a valid id`);
      else if (ids.has(id)) problems.push(`${mat}.id: ${id} used twice`);
      else ids.add(id);
    }
    if (typeof options.expression === 'string') {
      if (row.length !== 1) problems.push(`${mat}: an expression row holds only its options`);
      if (typeof id !== 'string') problems.push(`${mat}: an expression needs an id`);
      expressions.push([mat, options.expression]);
      return;
    }
    // [namespace, metric name, dimension name, value, ...] and optional rendering options.
    const names = row.filter((v) => !isObject(v));
    if (names.length < 2 || names.length % 2 !== 0 || !names.every((v) => typeof v === 'string'))
      problems.push(`${mat}: [namespace, metric, (dimension, value)...]`);
  });
  for (const [mat, expression] of expressions) {
    const withoutStrings = expression.replace(/'(?:[^'\\]|\\.)*'/g, "''");
    for (const [word] of withoutStrings.matchAll(/[A-Za-z_][A-Za-z0-9_]*/g))
      if (!MATH_WORDS.has(word) && !ids.has(word))
        problems.push(`${mat}.expression: ${word} names no metric of the widget`);
  }
  return problems;
}

export function dashboardViolations(body: Dashboard): string[] {
  const problems: string[] = [];
  for (const member of Object.keys(body))
    if (!ROOT_MEMBERS.includes(member)) problems.push(`${member}: not a member of a dashboard body`);
  if (!Array.isArray(body.widgets) || body.widgets.length === 0 || body.widgets.length > MAX_WIDGETS)
    return [...problems, `widgets: 1..${MAX_WIDGETS} widgets`];
  body.widgets.forEach((widget, i) => {
    const at = `widgets[${i}]`;
    if (!WIDGET_TYPES.includes(widget.type))
      problems.push(`${at}.type: ${widget.type} is not one of ${WIDGET_TYPES.join(', ')}`);
    const x = widget.x ?? 0;
    const width = widget.width ?? 6;
    if (!isCount(x, 0, GRID_COLUMNS - 1) || !isCount(widget.y ?? 0, 0, Number.MAX_SAFE_INTEGER))
      problems.push(`${at}: x and y are grid positions`);
    if (!isCount(width, 1, GRID_COLUMNS) || x + width > GRID_COLUMNS)
      problems.push(`${at}: x ${x} + width ${width} exceeds the ${GRID_COLUMNS}-column grid`);
    if (!isCount(widget.height ?? 6, 1, MAX_HEIGHT)) problems.push(`${at}.height: 1..${MAX_HEIGHT}`);
    const p = widget.properties;
    if (!isObject(p)) {
      problems.push(`${at}.properties: missing`);
      return;
    }
    const pat = `${at}.properties`;
    if (widget.type === 'metric') problems.push(...metricWidgetViolations(pat, p));
    if (widget.type === 'text' && typeof p.markdown !== 'string') problems.push(`${pat}.markdown: missing`);
    if (widget.type === 'log') {
      if (typeof p.region !== 'string') problems.push(`${pat}.region: missing`);
      if (typeof p.query !== 'string' || !/^SOURCE '[^']+'(\s*\|\s*SOURCE '[^']+')*\s*\|/.test(p.query))
        problems.push(`${pat}.query: a Logs Insights query starting with SOURCE 'log-group'`);
      if (p.view !== undefined && !LOG_VIEWS.includes(String(p.view))) problems.push(`${pat}.view: ${String(p.view)}`);
    }
    if (widget.type === 'alarm' && !(Array.isArray(p.alarms) && p.alarms.length > 0))
      problems.push(`${pat}.alarms: missing`);
  });
  return problems;
}

/** The metrics a body's SEARCH expressions ask for: SEARCH('{Namespace,Dimension...} MetricName="Name"', ...). */
export function searchSchemas(body: { widgets: Widget[] }): NamedMetric[] {
  const found: NamedMetric[] = [];
  for (const widget of body.widgets) {
    const metrics = Array.isArray(widget.properties?.metrics) ? (widget.properties.metrics as unknown[][]) : [];
    for (const row of metrics) {
      const expression = String((row.at(-1) as { expression?: unknown } | undefined)?.expression ?? '');
      const search = /SEARCH\('\{([^}]*)\}\s+MetricName="([^"]+)"'/.exec(expression);
      if (!search) continue;
      const [namespace = '', ...dimensions] = (search[1] ?? '').split(',').map((s) => s.trim().replace(/^"|"$/g, ''));
      found.push({ namespace, dimensions, metric: search[2] ?? '' });
    }
  }
  return found;
}

const ALARM_MEMBERS = [
  'AlarmName',
  'AlarmDescription',
  'ActionsEnabled',
  'OKActions',
  'AlarmActions',
  'InsufficientDataActions',
  'MetricName',
  'Namespace',
  'Statistic',
  'ExtendedStatistic',
  'Dimensions',
  'Period',
  'Unit',
  'EvaluationPeriods',
  'DatapointsToAlarm',
  'Threshold',
  'ComparisonOperator',
  'TreatMissingData',
  'EvaluateLowSampleCountPercentile',
  'Metrics',
  'Tags',
  'ThresholdMetricId',
];
const COMPARISONS = [
  'GreaterThanOrEqualToThreshold',
  'GreaterThanThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
  'LessThanLowerOrGreaterThanUpperThreshold',
  'LessThanLowerThreshold',
  'GreaterThanUpperThreshold',
];
const MISSING_DATA = ['breaching', 'notBreaching', 'ignore', 'missing'];

/** PutMetricAlarm's input rules, for `aws cloudwatch put-metric-alarm --cli-input-json`. */
export function alarmViolations(alarm: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const required of ['AlarmName', 'EvaluationPeriods', 'ComparisonOperator'])
    if (alarm[required] === undefined) problems.push(`${required}: missing`);
  for (const member of Object.keys(alarm))
    if (!ALARM_MEMBERS.includes(member)) problems.push(`${member}: not a PutMetricAlarm member`);
  if (alarm.ComparisonOperator !== undefined && !COMPARISONS.includes(String(alarm.ComparisonOperator)))
    problems.push(`ComparisonOperator: ${String(alarm.ComparisonOperator)}`);
  if (alarm.TreatMissingData !== undefined && !MISSING_DATA.includes(String(alarm.TreatMissingData)))
    problems.push(`TreatMissingData: ${String(alarm.TreatMissingData)}`);
  if (alarm.EvaluationPeriods !== undefined && !isCount(alarm.EvaluationPeriods, 1, 10080))
    problems.push('EvaluationPeriods: a positive whole number');
  if (
    alarm.DatapointsToAlarm !== undefined &&
    !isCount(alarm.DatapointsToAlarm, 1, Number(alarm.EvaluationPeriods ?? Number.POSITIVE_INFINITY))
  )
    problems.push('DatapointsToAlarm: 1..EvaluationPeriods');
  if (typeof alarm.Threshold !== 'number' && alarm.ThresholdMetricId === undefined) problems.push('Threshold: missing');
  const single = alarm.MetricName !== undefined && alarm.Namespace !== undefined && alarm.Period !== undefined;
  if (Array.isArray(alarm.Metrics)) {
    if (single) problems.push('MetricName and Metrics together');
    const queries = alarm.Metrics as Array<Record<string, unknown>>;
    if (queries.filter((q) => q.ReturnData === true).length !== 1) problems.push('Metrics: exactly one ReturnData');
    queries.forEach((q, i) => {
      if (typeof q.Id !== 'string' || !ID.test(q.Id)) problems.push(`Metrics[${i}].Id: ${String(q.Id)}`);
      if ((q.Expression === undefined) === (q.MetricStat === undefined))
        problems.push(`Metrics[${i}]: either Expression or MetricStat`);
      if (typeof q.Expression === 'string' && /^\s*SELECT\b/i.test(q.Expression) && !isCount(q.Period, 10, 86400))
        problems.push(`Metrics[${i}].Period: a Metrics Insights query needs one`);
    });
  } else if (!single) problems.push('neither MetricName, Namespace and Period nor Metrics');
  return problems;
}

/** The metrics an alarm's Metrics Insights queries read: SELECT FN(Metric) FROM SCHEMA("Namespace", Dimension...). */
export function metricsInsightsSchemas(alarm: Record<string, unknown>): NamedMetric[] {
  const queries = Array.isArray(alarm.Metrics) ? (alarm.Metrics as Array<{ Expression?: unknown }>) : [];
  return queries.flatMap((q) => {
    const select = /^\s*SELECT\s+\w+\((\w+)\)\s+FROM\s+SCHEMA\(([^)]*)\)/i.exec(String(q.Expression ?? ''));
    if (!select) return [];
    const [namespace = '', ...dimensions] = (select[2] ?? '').split(',').map((s) => s.trim().replace(/^"|"$/g, ''));
    return [{ namespace, dimensions, metric: select[1] ?? '' }];
  });
}
