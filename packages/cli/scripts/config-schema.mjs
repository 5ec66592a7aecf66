#!/usr/bin/env node
// Writes dist/mcu.config.schema.json, the JSON Schema of mcu.config.json, from the valibot
// schema that validates the file (src/config.ts → src/config-schema.ts). Run by the package's
// build after tsc; editors read it through "$schema": "./node_modules/@mcu/cli/dist/mcu.config.schema.json".
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_JSON_SCHEMA_FILE, configJsonSchema } from '../dist/config-schema.js';

const out = fileURLToPath(new URL(`../${CONFIG_JSON_SCHEMA_FILE}`, import.meta.url));
fs.writeFileSync(out, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${out}`);
