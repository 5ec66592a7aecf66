#!/usr/bin/env node
// Writes packages/server/openapi.json: the document GET /openapi.json serves, made from the
// routes' JSON Schemas by a server without models (test/openapi.test.ts checks the two agree).
// Run after the build: node packages/server/scripts/openapi.mjs
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer } from '../dist/index.js';

const server = await createServer({ models: {} });
const r = await server.app.inject({ method: 'GET', url: '/openapi.json' });
await server.close();
if (r.statusCode !== 200) throw new Error(`GET /openapi.json answered ${r.statusCode}: ${r.body}`);
const file = fileURLToPath(new URL('../openapi.json', import.meta.url));
writeFileSync(file, `${JSON.stringify(JSON.parse(r.body), null, 2)}\n`);
console.log(`wrote ${file}`);
