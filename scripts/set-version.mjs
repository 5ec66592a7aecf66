#!/usr/bin/env node
// One version for every public package: `node scripts/set-version.mjs 0.2.0` writes it into
// each non-private packages/*/package.json (the CLI's `mcu --version` reads its own at run
// time; packages/core/src/version.ts, which results report, is written too; @mcu/* dependencies are `workspace:*`, which pnpm pack/publish turns into this version).
// Without an argument it prints the versions and exits 1 if they differ.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', 'packages');
const version = process.argv[2];
if (version !== undefined && !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
  console.error(`set-version: '${version}' is not a semver version`);
  process.exit(2);
}
const seen = new Set();
for (const dir of fs.readdirSync(root).sort()) {
  const file = path.join(root, dir, 'package.json');
  if (!fs.existsSync(file)) continue;
  const text = fs.readFileSync(file, 'utf8');
  const pkg = JSON.parse(text);
  if (pkg.private === true) continue;
  if (version !== undefined && pkg.version !== version) {
    fs.writeFileSync(file, text.replace(/("version":\s*)"[^"]*"/, `$1"${version}"`));
    pkg.version = version;
  }
  seen.add(pkg.version);
  console.log(`${pkg.name} ${pkg.version}`);
}
// @mcu/core reports its version in every result's meta (packages/core/src/version.ts, browser-safe: no fs)
const versionTs = path.join(root, 'core', 'src', 'version.ts');
const ts = fs.readFileSync(versionTs, 'utf8');
if (version !== undefined) fs.writeFileSync(versionTs, ts.replace(/VERSION = '[^']*'/, `VERSION = '${version}'`));
const inTs = /VERSION = '([^']*)'/.exec(fs.readFileSync(versionTs, 'utf8'))?.[1];
console.log(`packages/core/src/version.ts ${inTs}`);
seen.add(inTs);
if (seen.size !== 1) {
  console.error(`set-version: the public packages have ${seen.size} versions: ${[...seen].join(', ')}`);
  process.exit(1);
}
