#!/usr/bin/env node
// imds-analyzer command line: parses arguments and hands over to the command's room.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { appFile } from '../daemon/app-files.js';
import { redactText } from '../logic/redact.js';

/** Each command's usage and what it does; `imds-analyzer <command> --help` prints its own. */
const COMMAND_HELP = {
  run: `  imds-analyzer run [--config FILE] [--log-dir DIR] [--console] [--buffer auto|ringbuf|perfbuf]
      Capture IMDS requests until stopped (the systemd service runs this).
      Exit status: 0 clean stop, 1 failure, 78 bad configuration (or a directory it cannot write).
`,
  report: `  imds-analyzer report [FILES|DIRS...] [--format table|json|csv|markdown|html] [--since T] [--until T]
                       [--host H] [--include-v2] [--min-observed DURATION] [--allow-no-boot]
                       [--hosts-csv FILE] [--config FILE]
      Without FILES or DIRS: the logDir of the config (/etc/imds-analyzer/config.json).
      Is it safe to require IMDSv2 here (on each host), and if not, what must change?
      Reads our logs (.log, .gz) and CloudWatch Logs export objects, from any number of hosts.
      Exit status: 0 YES, 1 NO (IMDSv1 callers), 2 UNKNOWN (evidence incomplete: the reasons
      say what is missing) or error.
`,
  status: `  imds-analyzer status [--state FILE | --config FILE]
      Is the service running, what is attached, counters and lost events.
      Exit status: 0 running, 3 not running, 2 unreadable state file.
`,
  'cut-btf': `  imds-analyzer cut-btf OBJECT OUT
      Writes the kernel's BTF cut down to what the BPF object's CO-RE relocations use. The daemon
      runs it after its first start on a kernel and uses the file only once a load proves it
      equivalent (docs/service.md, "Start-up time").
`,
} as const;
type Command = keyof typeof COMMAND_HELP;

const FOOTER = `
Config: /etc/imds-analyzer/config.json (see README). Logs: /var/log/imds-analyzer/.
`;

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

function version(): string {
  const pkg = JSON.parse(readFileSync(appFile('package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (isCommand(command) && wantsHelp(rest)) {
    process.stdout.write(`Usage:\n${COMMAND_HELP[command]}${FOOTER}`);
    return 0;
  }
  switch (command) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    case '-V':
    case '--version':
      process.stdout.write(`imds-analyzer ${version()}\n`);
      return 0;
    case 'run': {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string' },
          'log-dir': { type: 'string' },
          console: { type: 'boolean' },
          buffer: { type: 'string' },
        },
        strict: true,
      });
      const { runDaemon } = await import('../daemon/daemon.js');
      return runDaemon({
        configPath: values.config,
        logDir: values['log-dir'],
        console: values.console,
        buffer: values.buffer,
        version: version(),
      });
    }
    case 'report': {
      const { runReportCommand } = await import('../report/index.js');
      return runReportCommand(rest);
    }
    case 'status': {
      const { runStatusCommand } = await import('../report/index.js');
      return runStatusCommand(rest);
    }
    case 'cut-btf': {
      const [objectPath, outPath, ...extra] = rest;
      if (!objectPath || !outPath || extra.length > 0) {
        process.stderr.write(`Usage:\n${COMMAND_HELP['cut-btf']}`);
        return 2;
      }
      const { cutDownKernelBtf } = await import('../capture/core-btf-cache.js');
      await cutDownKernelBtf(objectPath, outPath);
      return 0;
    }
    default:
      process.stderr.write(`imds-analyzer: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`imds-analyzer: ${redactText(message).text}\n`);
    process.exitCode = 2;
  },
);
