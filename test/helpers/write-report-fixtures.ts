// `npm run fixtures:report`: rewrites test/fixtures/report/verdict/ and status/state.json from report-fixtures.ts.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFixtures } from './report-fixtures.js';

// Run from dist-test/test/helpers: the repository is three levels up.
const root = fileURLToPath(new URL('../../../test/fixtures/report/', import.meta.url));
rmSync(`${root}/verdict`, { recursive: true, force: true });
await writeFixtures(root);
