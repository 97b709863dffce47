// `npm run fixtures:report`: rewrites test/fixtures/report/verdict/ from report-fixtures.ts.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFixtures } from './report-fixtures.js';

// Run from dist-test/test/helpers: the repository is three levels up.
const root = fileURLToPath(new URL('../../../test/fixtures/report/verdict/', import.meta.url));
rmSync(root, { recursive: true, force: true });
await writeFixtures(root);
