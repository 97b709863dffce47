// `npm run docs:contract`: rewrites the generated field list in docs/log-contract.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { DOC_BEGIN, DOC_END, contractDoc } from './contract-doc.js';

const path = new URL('../../../docs/log-contract.md', import.meta.url);
const text = readFileSync(path, 'utf8');
const begin = text.indexOf(DOC_BEGIN);
const end = text.indexOf(DOC_END);
if (begin < 0 || end < 0) throw new Error('docs/log-contract.md has no log contract markers');
writeFileSync(path, text.slice(0, begin) + contractDoc() + text.slice(end + DOC_END.length));
