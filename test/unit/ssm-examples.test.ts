// The rollout examples in packaging/ssm: the State Manager association (CloudFormation) and the
// EC2 Image Builder component parse as YAML and carry what their services require; the
// component's shell steps are valid shell and install from the Distributor zip's own install.sh.
// The Distributor scripts refuse a directory without exactly one RPM. (Installing with them:
// test/e2e/ssm-package.test.ts.)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SSM = join(REPO, 'packaging/ssm');
const PACKAGE_NAME = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string }).name;
/** The unit the RPM installs, by the name of its file in the tree. */
const UNIT = readdirSync(join(REPO, 'packaging/systemd')).find((name) => name.endsWith('.service')) ?? '';

const readYaml = (name: string) => {
  const text = readFileSync(join(SSM, name), 'utf8');
  return { text, doc: parse(text) as Record<string, unknown> };
};

describe('association.cfn.yaml: State Manager keeps the Distributor package installed', () => {
  const { doc } = readYaml('association.cfn.yaml');
  const parameters = doc.Parameters as Record<string, { Type: string; Default?: string }>;
  const resources = doc.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
  const association = Object.values(resources).find((r) => r.Type === 'AWS::SSM::Association');
  const properties = association?.Properties ?? {};
  /** A template value as deployed with the parameters' defaults: Ref and Fn::Sub resolved. */
  const resolved = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) return value.map(resolved);
    const { Ref: ref, 'Fn::Sub': sub } = value as { Ref?: string; 'Fn::Sub'?: string };
    if (ref !== undefined) {
      expect(Object.keys(parameters), `Ref ${ref}`).toContain(ref);
      return parameters[ref]?.Default;
    }
    if (sub !== undefined)
      return sub.replace(/\$\{(\w+)\}/g, (_, name: string) => {
        expect(Object.keys(parameters), `\${${name}}`).toContain(name);
        return parameters[name]?.Default ?? '';
      });
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolved(v)]));
  };

  it('is a CloudFormation template with one AWS::SSM::Association of known properties', () => {
    expect(doc.AWSTemplateFormatVersion).toBe('2010-09-09');
    expect(Object.values(resources).map((r) => r.Type)).toEqual(['AWS::SSM::Association']);
    // AWS::SSM::Association's properties (CloudFormation resource reference).
    const known = [
      'AlarmConfiguration',
      'ApplyOnlyAtCronInterval',
      'AssociationName',
      'AutomationTargetParameterName',
      'CalendarNames',
      'ComplianceSeverity',
      'DocumentVersion',
      'InstanceId',
      'MaxConcurrency',
      'MaxErrors',
      'Name',
      'OutputLocation',
      'Parameters',
      'ScheduleExpression',
      'ScheduleOffset',
      'SyncCompliance',
      'Targets',
      'WaitForSuccessTimeoutSeconds',
    ];
    expect(Object.keys(properties).filter((p) => !known.includes(p))).toEqual([]);
    for (const p of Object.values(parameters)) expect(p.Type).toBe('String');
  });

  it('runs AWS-ConfigureAWSPackage to install this package, as lists of strings', () => {
    expect(properties.Name).toBe('AWS-ConfigureAWSPackage');
    const documentParameters = resolved(properties.Parameters) as Record<string, unknown>;
    for (const values of Object.values(documentParameters)) {
      expect(Array.isArray(values)).toBe(true);
      for (const value of values as unknown[]) expect(typeof value).toBe('string');
    }
    expect(documentParameters.action).toEqual(['Install']);
    expect(documentParameters.name).toEqual([PACKAGE_NAME]);
    expect(['Uninstall and reinstall', 'In-place update']).toContain(
      (documentParameters.installationType as string[])[0],
    );
    expect(
      Object.keys(documentParameters).filter(
        (p) => !['action', 'installationType', 'name', 'version', 'additionalArguments'].includes(p),
      ),
    ).toEqual([]);
  });

  it('rolls out by tag, a slice at a time, stopping on errors, re-applied on a schedule', () => {
    const targets = resolved(properties.Targets) as Array<{ Key: string; Values: string[] }>;
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) {
      expect(target.Key).toMatch(/^tag:[^\s]+$/);
      expect(target.Values.length).toBeGreaterThan(0);
    }
    // A number, or a percentage (CreateAssociation's pattern).
    const rate = /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/;
    expect(resolved(properties.MaxConcurrency)).toMatch(rate);
    expect(resolved(properties.MaxErrors)).toMatch(/^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/);
    expect(properties.ScheduleExpression).toMatch(/^(rate\(\d+ (minutes?|hours?|days?)\)|cron\(.+\))$/);
    expect(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNSPECIFIED']).toContain(properties.ComplianceSeverity);
  });
});

describe('imagebuilder-component.yaml: bakes the package into an AMI', () => {
  const { text, doc } = readYaml('imagebuilder-component.yaml');
  type Step = { name: string; action: string; inputs: unknown };
  const phases = doc.phases as Array<{ name: string; steps: Step[] }>;
  const phase = (name: string) => phases.find((p) => p.name === name)?.steps ?? [];
  const commandsOf = (steps: Step[]) =>
    steps.filter((s) => s.action === 'ExecuteBash').flatMap((s) => (s.inputs as { commands: string[] }).commands);

  it('is a schema 1.0 component document with build, validate and test phases', () => {
    expect(typeof doc.name).toBe('string');
    expect(typeof doc.description).toBe('string');
    // YAML reads 1.0 as the number 1: the text says 1.0, as Image Builder expects.
    expect(doc.schemaVersion).toBe(1);
    expect(text).toMatch(/^schemaVersion: 1\.0$/m);
    expect(phases.map((p) => p.name)).toEqual(['build', 'validate', 'test']);
    const actions = ['ExecuteBash', 'S3Download', 'UpdateOS', 'Reboot', 'CreateFile', 'ExecuteBinary'];
    for (const { name, steps } of phases) {
      expect(steps.length, name).toBeGreaterThan(0);
      const names = steps.map((s) => s.name);
      expect(new Set(names).size, name).toBe(names.length);
      for (const step of steps) {
        expect(step.name).toMatch(/^[A-Za-z0-9_]+$/);
        expect(actions).toContain(step.action);
        expect(step.inputs, step.name).toBeDefined();
      }
    }
  });

  it('declares every parameter it uses', () => {
    const declared = (doc.parameters as Array<Record<string, { type: string }>>).flatMap((p) => Object.keys(p));
    const used = [...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((u) => !declared.includes(u ?? ''))).toEqual([]);
  });

  it('downloads the Distributor zip and runs its own install.sh, the script State Manager runs', () => {
    const [download] = phase('build').filter((s) => s.action === 'S3Download');
    const [{ destination = '' } = {}] = (download?.inputs ?? []) as Array<{ source: string; destination: string }>;
    const build = commandsOf(phase('build')).join('\n');
    expect(build).toContain(`unzip -o -q ${destination.split('/').pop()}`);
    expect(build).toContain(`sh ${destination.slice(0, destination.lastIndexOf('/'))}/install.sh`);
    expect(readFileSync(join(SSM, 'install.sh'), 'utf8')).toMatch(/^#!\/bin\/sh/);
  });

  it('checks in validate and test that the unit is enabled for every boot', () => {
    const unit = UNIT.replace(/\.service$/, '');
    expect(unit).toBe(PACKAGE_NAME);
    for (const name of ['validate', 'test'])
      expect(commandsOf(phase(name)).join('\n'), name).toContain(`test "$(systemctl is-enabled ${unit})" = enabled`);
  });

  it('has shell steps that bash parses', () => {
    for (const { name, steps } of phases) {
      const script = commandsOf(steps).join('\n');
      const checked = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
      expect(checked.stderr, name).toBe('');
      expect(checked.status, name).toBe(0);
    }
    expect(spawnSync('bash', ['-n'], { input: 'if then fi', encoding: 'utf8' }).status).not.toBe(0);
  });
});

describe('the Distributor scripts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssm-scripts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['no RPM', []],
    ['two RPMs', ['imds-analyzer-0.1.0-1.amzn2023.x86_64.rpm', 'imds-analyzer-0.1.0-2.amzn2023.x86_64.rpm']],
  ])('install.sh and update.sh refuse a package with %s, installing nothing', (name, rpms) => {
    const pkg = join(dir, name.replace(/ /g, '-'));
    mkdirSync(pkg);
    for (const script of ['install.sh', 'update.sh']) copyFileSync(join(SSM, script), join(pkg, script));
    for (const rpm of rpms) writeFileSync(join(pkg, rpm), 'not installed by this test');
    for (const script of ['install.sh', 'update.sh']) {
      // A root that does not exist: were rpm ever run, it would fail differently.
      const result = spawnSync('sh', [join(pkg, script)], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, IMDS_ANALYZER_TEST_ROOT: join(dir, 'no-root') },
      });
      expect(result.status, script).toBe(1);
      expect(result.stderr.trim(), script).toBe(`install.sh: expected exactly one imds-analyzer RPM in ${pkg}`);
    }
  });
});
