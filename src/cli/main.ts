#!/usr/bin/env node
// imds-analyzer command line: parses arguments and hands over to the command's room.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  closest,
  EXIT,
  errorLine,
  exitStatusOf,
  exitStatusText,
  OutputError,
  UsageError,
} from '../logic/exit-status.js';
import { CANARY_HELP } from './canary-help.js';

/** Each command's usage and what it does; `imds-analyzer <command> --help` prints its own. */
const COMMAND_HELP = {
  run: `  imds-analyzer run [--config FILE] [--log-dir DIR] [--console] [--buffer auto|ringbuf|perfbuf]
      Capture IMDS requests until stopped (the systemd service runs this).
`,
  report: `  imds-analyzer report [FILES|DIRS...] [--format table|json|csv|markdown|html] [--since T] [--until T]
                       [--host H] [--include-v2] [--min-observed DURATION] [--allow-no-boot]
                       [--hosts-csv FILE] [--workers N] [--verdicts] [--cross-check cloudwatch]
                       [--config FILE]
      Without FILES or DIRS: the logDir of the config (/etc/imds-analyzer/config.json).
      --verdicts: each host's latest verdict line only (the fleet answer; docs/fleet.md).
      --cross-check cloudwatch: each instance's AWS/EC2 MetadataNoToken against the log's
        count, per 5-minute period, asked in each host's own region (its lines', else AWS_REGION);
        more in CloudWatch makes the host UNKNOWN (docs/fleet.md).
      Is it safe to require IMDSv2 here (on each host), and if not, what must change?
      Reads our logs (.log, .gz) and CloudWatch Logs export objects, from any number of hosts.
      Exits 0 YES, 1 NO, 2 UNKNOWN; an error never exits 0, 1 or 2 (table below).
`,
  status: `  imds-analyzer status [--state FILE | --config FILE] [--format text|json]
      Is the service running, what is attached, counters and lost events, the canaries running
      and when each ends.
      Exits 0 running, 3 not running; an unreadable state file 66.
`,
  canary: CANARY_HELP,
  'cut-btf': `  imds-analyzer cut-btf OBJECT OUT
      Writes the kernel's BTF cut down to what the BPF object's CO-RE relocations use. The daemon
      runs it after its first start on a kernel and uses the file only once a load proves it
      equivalent (docs/service.md, "Start-up time").
`,
} as const;
type Command = keyof typeof COMMAND_HELP;

const FOOTER = `
Exit status (every command; errors print one line on stderr):
${exitStatusText()}
Config: /etc/imds-analyzer/config.json (see README). Logs: /var/log/imds-analyzer/.
`;

const RUN_OPTIONS = {
  config: { type: 'string' },
  'log-dir': { type: 'string' },
  console: { type: 'boolean' },
  buffer: { type: 'string' },
} as const;

const HELP = `imds-analyzer: find every process that still makes IMDSv1 calls

Usage:
${Object.values(COMMAND_HELP).join('')}  imds-analyzer --help | --version
${FOOTER}`;

function isCommand(name: string | undefined): name is Command {
  return name !== undefined && Object.hasOwn(COMMAND_HELP, name);
}

function wantsHelp(args: string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

async function version(): Promise<string> {
  // Loaded here: it finds the install's root when loaded, and only these commands need it.
  const { appFile } = await import('../daemon/app-files.js');
  const pkg = JSON.parse(readFileSync(appFile('package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * A reader that goes away (`report | head`) or a full disk must not leave the verdict's exit
 * status standing for output that was never written.
 */
function exitOnOutputError(command: string): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    const error = new OutputError(`cannot write to standard output (${err.code ?? err.message})`);
    process.stderr.write(errorLine(`imds-analyzer ${command}`, error));
    process.exit(exitStatusOf(error));
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (isCommand(command) && wantsHelp(rest)) {
    process.stdout.write(`Usage:\n${COMMAND_HELP[command]}${FOOTER}`);
    return 0;
  }
  switch (command) {
    case undefined:
      throw new UsageError(`no command given (${Object.keys(COMMAND_HELP).join(', ')}); see imds-analyzer --help`);
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP);
      return EXIT.ok;
    case '-V':
    case '--version':
      process.stdout.write(`imds-analyzer ${await version()}\n`);
      return EXIT.ok;
    case 'run': {
      let values: ReturnType<typeof parseRunArgs>;
      try {
        values = parseRunArgs(rest);
      } catch (err) {
        process.stderr.write(errorLine('imds-analyzer run', err, Object.keys(RUN_OPTIONS)));
        return exitStatusOf(err);
      }
      const { runDaemon } = await import('../daemon/daemon.js');
      return runDaemon({
        configPath: values.config,
        logDir: values['log-dir'],
        console: values.console,
        buffer: values.buffer,
        version: await version(),
      });
    }
    case 'report': {
      exitOnOutputError(command);
      const { runReportCommand } = await import('../report/index.js');
      return runReportCommand(rest);
    }
    case 'status': {
      exitOnOutputError(command);
      const { runStatusCommand } = await import('../report/index.js');
      return runStatusCommand(rest);
    }
    case 'canary': {
      const { runCanaryCommand } = await import('./canary.js');
      return runCanaryCommand(rest);
    }
    case 'cut-btf': {
      const [objectPath, outPath, ...extra] = rest;
      if (!objectPath || !outPath || extra.length > 0)
        throw new UsageError('cut-btf takes two arguments: OBJECT OUT; see imds-analyzer cut-btf --help');
      const { cutDownKernelBtf } = await import('../capture/core-btf-cache.js');
      await cutDownKernelBtf(objectPath, outPath);
      return EXIT.ok;
    }
    default: {
      const meant = closest(command, Object.keys(COMMAND_HELP));
      throw new UsageError(
        `unknown command "${command}"${meant ? ` (did you mean ${meant}?)` : ''}; commands: ${Object.keys(COMMAND_HELP).join(', ')}`,
      );
    }
  }
}

function parseRunArgs(args: string[]) {
  return parseArgs({ args, options: RUN_OPTIONS, strict: true }).values;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(errorLine('imds-analyzer', err));
    process.exitCode = exitStatusOf(err);
  },
);
