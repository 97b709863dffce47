// The Amazon Linux 2 unit (packaging/systemd/al2/) uses only what systemd 219
// knows (test/fixtures/systemd-219/directives.json, read from 219's sources), its syscall filter
// names only real syscalls, denies what the AL2023 unit denies, and keeps everything else the
// AL2023 unit says; the AL2023 unit still passes `systemd-analyze verify`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The directives systemd 219 knows, by section (docs/systemd-219.md says where they come from). */
const DIRECTIVES_219 = join(REPO, 'test/fixtures/systemd-219/directives.json');
const AL2_UNIT = join(REPO, 'packaging/systemd/al2/imds-analyzer.service');
const AL2023_UNIT = join(REPO, 'packaging/systemd/imds-analyzer.service');
/** The architectures the package is built for: x86_64 and aarch64 (asm-generic). */
const SYSCALL_TABLES = ['/usr/include/x86_64-linux-gnu/asm/unistd_64.h', '/usr/include/asm-generic/unistd.h'];
/**
 * Denied by the AL2023 unit but left out of the AL2 list: newer than Amazon Linux 2's
 * libseccomp 2.4, whose systemd would log "Failed to parse system call" for each and
 * deny nothing more.
 */
const UNKNOWN_TO_AL2_LIBSECCOMP = new Set([
  'landlock_add_rule',
  'landlock_create_ruleset',
  'landlock_restrict_self',
  'memfd_secret',
  'pidfd_getfd',
  'process_mrelease',
  'quotactl_fd',
]);

interface Directive {
  section: string;
  key: string;
  value: string;
}

function parseUnit(text: string): Directive[] {
  const out: Directive[] = [];
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header?.[1]) {
      section = header[1];
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`not a directive: ${line}`);
    out.push({ section, key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
  }
  return out;
}

/** Section -> directives systemd 219 knows. */
function directivesOf219(): Map<string, Set<string>> {
  const { sections } = JSON.parse(readFileSync(DIRECTIVES_219, 'utf8')) as { sections: Record<string, string[]> };
  return new Map(Object.entries(sections).map(([section, names]) => [section, new Set(names)]));
}

function syscallTable(path: string): Set<string> {
  return new Set([...readFileSync(path, 'utf8').matchAll(/^#define __NR_(\w+)\s/gm)].map((m) => m[1] as string));
}

/** Syscall names of a filter value, as systemd 219 splits them (whitespace), without the leading ~. */
function filterWords(directives: Directive[]): { deny: boolean; names: string[] }[] {
  return directives
    .filter((d) => d.key === 'SystemCallFilter')
    .map((d) => ({ deny: d.value.startsWith('~'), names: d.value.replace(/^~/, '').split(/\s+/).filter(Boolean) }));
}

/** Every syscall a systemd filter expression covers, expanded by this host's systemd-analyze. */
function expandFilter(words: string[]): Set<string> {
  const groups = new Map<string, string[]>();
  let current = '';
  for (const raw of execFileSync('systemd-analyze', ['syscall-filter', '--no-pager'], { encoding: 'utf8' }).split(
    '\n',
  )) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (raw.startsWith(' ')) {
      groups.get(current)?.push(line);
    } else {
      current = line;
      groups.set(current, []);
    }
  }
  const seen = new Set<string>();
  const expand = (word: string): string[] => {
    if (!word.startsWith('@')) return [word];
    if (seen.has(word)) return [];
    seen.add(word);
    const members = groups.get(word);
    if (!members) throw new Error(`systemd-analyze knows no group ${word}`);
    return members.flatMap(expand);
  };
  return new Set(words.flatMap(expand));
}

describe('Amazon Linux 2 unit (systemd 219)', () => {
  const al2 = parseUnit(readFileSync(AL2_UNIT, 'utf8'));
  const al2023 = parseUnit(readFileSync(AL2023_UNIT, 'utf8'));

  it('uses only directives systemd 219 knows, each in its section', () => {
    const known = directivesOf219();
    expect([...known.keys()].sort()).toEqual(['Install', 'Service', 'Unit']);
    const unknown = al2.filter((d) => !known.get(d.section)?.has(d.key)).map((d) => `[${d.section}] ${d.key}=`);
    expect(unknown).toEqual([]);
  });

  it('uses only values 219 accepts where 252 accepts more', () => {
    const value = (key: string) => al2.filter((d) => d.key === key).map((d) => d.value);
    expect(value('ProtectSystem')).toEqual(['full']);
    for (const v of value('ProtectHome')) expect(['yes', 'read-only', 'true', 'no', 'false']).toContain(v);
    // 219's libcap predates CAP_BPF and CAP_PERFMON; CAP_SYS_ADMIN covers both.
    expect(value('CapabilityBoundingSet').join(' ')).not.toMatch(/CAP_BPF|CAP_PERFMON/);
    expect(value('CapabilityBoundingSet').join(' ')).toMatch(/\bCAP_SYS_ADMIN\b/);
  });

  it('filters syscalls with a deny-list of real syscall names only (no @group)', () => {
    const filters = filterWords(al2);
    expect(filters.length).toBeGreaterThan(0);
    expect(filters.every((f) => f.deny)).toBe(true);
    const tables = SYSCALL_TABLES.map(syscallTable);
    for (const table of tables) expect(table.has('execve')).toBe(true);
    const names = filters.flatMap((f) => f.names);
    expect(names.filter((n) => !/^[a-z0-9_]+$/.test(n))).toEqual([]);
    // A syscall of both architectures: on either one, systemd 219 resolves every name.
    expect(names.filter((n) => !tables.every((t) => t.has(n)))).toEqual([]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('denies exactly what the AL2023 unit denies, as far as both architectures and 219 know it', () => {
    const tables = SYSCALL_TABLES.map(syscallTable);
    const allowed252 = expandFilter(filterWords(al2023).flatMap((f) => f.names));
    const denied252 = [...expandFilter(['@known'])].filter(
      (n) => !allowed252.has(n) && tables.every((t) => t.has(n)) && !UNKNOWN_TO_AL2_LIBSECCOMP.has(n),
    );
    const deniedAl2 = filterWords(al2).flatMap((f) => f.names);
    expect(deniedAl2.filter((n) => allowed252.has(n))).toEqual([]);
    expect(denied252.filter((n) => !deniedAl2.includes(n))).toEqual([]);
    // Sanity: what the daemon itself needs is not denied.
    for (const needed of ['bpf', 'perf_event_open', 'mount', 'execve', 'mmap', 'epoll_wait']) {
      expect(deniedAl2).not.toContain(needed);
    }
  });

  it('says everything else the way the AL2023 unit says it', () => {
    // Deliberately different: what 219 lacks (see the unit's comments).
    const differs = new Set(['CapabilityBoundingSet', 'ProtectSystem', 'SystemCallFilter', 'RestartPreventExitStatus']);
    const key = (d: Directive) => `[${d.section}] ${d.key}`;
    const of2023 = new Map<string, string[]>();
    for (const d of al2023) of2023.set(key(d), [...(of2023.get(key(d)) ?? []), d.value]);
    for (const d of al2.filter((x) => !differs.has(x.key))) {
      expect(of2023.get(key(d)), key(d)).toContain(d.value);
    }
    expect(al2.find((d) => d.key === 'RestartPreventExitStatus')?.value).toBe(
      al2023.find((d) => d.key === 'RestartPreventExitStatus')?.value,
    );
    // What 219 knows of the AL2023 unit is in the AL2 unit too, unless it is one of the differences.
    const known = directivesOf219();
    const al2Keys = new Set(al2.map(key));
    const missing = al2023.filter(
      (d) => known.get(d.section)?.has(d.key) && !differs.has(d.key) && !al2Keys.has(key(d)),
    );
    expect(missing.map(key)).toEqual([]);
  });
});

describe("systemd-analyze verify (this host's systemd)", () => {
  for (const [name, unit] of [
    ['AL2023', AL2023_UNIT],
    ['AL2', AL2_UNIT],
  ] as const) {
    it(`passes the ${name} unit with nothing to say`, () => {
      // A root where ExecStart's binary exists, so verify checks the unit and not the host.
      const root = mkdtempSync(join(tmpdir(), 'imds-unit-'));
      try {
        mkdirSync(join(root, 'usr/bin'), { recursive: true });
        mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
        writeFileSync(join(root, 'usr/bin/imds-analyzer'), '#!/bin/sh\n');
        chmodSync(join(root, 'usr/bin/imds-analyzer'), 0o755);
        cpSync(unit, join(root, 'etc/systemd/system/imds-analyzer.service'));
        const result = spawnSync(
          'systemd-analyze',
          ['verify', '--man=no', `--root=${root}`, '/etc/systemd/system/imds-analyzer.service'],
          { encoding: 'utf8' },
        );
        expect(`${result.stdout}${result.stderr}`).toBe('');
        expect(result.status).toBe(0);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
