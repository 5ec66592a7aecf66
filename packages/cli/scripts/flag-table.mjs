#!/usr/bin/env node
// Rewrites README.md's flag table (between <!-- flags:begin … --> and <!-- flags:end -->) from
// the built CLI's OPTIONS table: `npx -y pnpm@12.4.2 -r build && node packages/cli/scripts/flag-table.mjs`.
// test/cli-flags.test.ts fails while the README's table differs from OPTIONS.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { flagTableMarkdown } from '../dist/args.js';

const readme = fileURLToPath(new URL('../../../README.md', import.meta.url));
const text = fs.readFileSync(readme, 'utf8');
const re = /(<!-- flags:begin[^>]*-->\n)[\s\S]*?(<!-- flags:end -->)/;
if (!re.test(text)) throw new Error(`${readme}: no <!-- flags:begin --> … <!-- flags:end --> markers`);
fs.writeFileSync(
  readme,
  text.replace(re, (_, begin, end) => `${begin}${flagTableMarkdown()}${end}`),
);
console.log(`updated the flag table in ${readme}`);
