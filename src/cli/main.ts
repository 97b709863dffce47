#!/usr/bin/env node
// imds-analyzer command line: parses arguments and hands over to the command's room.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const HELP = `imds-analyzer: find every process that still makes IMDSv1 calls

Usage:
  imds-analyzer run [--config FILE] [--log-dir DIR] [--console] [--buffer auto|ringbuf|perfbuf]
      Capture IMDS requests until stopped (the systemd service runs this).
  imds-analyzer report [FILES|DIRS...] [--format table|json|csv|markdown] [--since T] [--until T]
                       [--host H] [--include-v2] [--min-observed DURATION] [--allow-no-boot]
                       [--hosts-csv FILE] [--config FILE]
      Without FILES or DIRS: the logDir of the config (/etc/imds-analyzer/config.json).
      Is it safe to require IMDSv2 here (on each host), and if not, what must change?
      Reads our logs (.log, .gz) and CloudWatch Logs export objects, from any number of hosts.
      Exit status: 0 YES, 1 NO (IMDSv1 callers), 2 UNKNOWN (evidence incomplete: the reasons
      say what is missing) or error.
  imds-analyzer status [--state FILE | --config FILE]
      Is the service running, what is attached, counters and lost events.
      Exit status: 0 running, 3 not running, 2 unreadable state file.
  imds-analyzer --help | --version

Config: /etc/imds-analyzer/config.json (see README). Logs: /var/log/imds-analyzer/.
Exit status of run: 0 clean stop, 1 failure, 78 bad configuration.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
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
    process.stderr.write(`imds-analyzer: ${message}\n`);
    process.exitCode = 2;
  },
);
