// The boot test's continuity client, run inside the nspawn container (whose network namespace
// is the test netns) by the flavour's own node: takes an IMDSv2 token, then makes one request
// every 20 ms, each on a new connection and with its own number, and records `<n> <status>`
// for each answered one (`<n> 000` when it got none) until the stop file appears; it never
// stops mid-request. Arguments: <record file> <stop file>.
import { appendFileSync, existsSync } from 'node:fs';
import { get, request } from 'node:http';

const [record = '/var/tmp/imds-client.out', stopFile = '/var/tmp/imds-client.stop'] = process.argv.slice(2);
const host = '169.254.169.254'; // dialled only inside the nspawn container, in the test netns
const INTERVAL_MS = 20;

function every(token: string): void {
  let n = 0;
  const timer = setInterval(() => {
    if (existsSync(stopFile)) {
      clearInterval(timer);
      return;
    }
    const i = ++n;
    const headers = { 'X-aws-ec2-metadata-token': token };
    get({ host, path: `/latest/meta-data/ami-id?n=${i}`, agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => appendFileSync(record, `${i} ${res.statusCode}\n`));
    }).on('error', () => appendFileSync(record, `${i} 000\n`));
  }, INTERVAL_MS);
}

const put = request(
  // nspawn only
  {
    host,
    method: 'PUT',
    path: '/latest/api/token',
    agent: false,
    headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '21600' },
  },
  (res) => {
    let token = '';
    res.on('data', (d: Buffer) => {
      token += d.toString();
    });
    res.on('end', () => every(token));
  },
);
put.end();
