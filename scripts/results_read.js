'use strict';
/*
 * Reads an inference output written in Arrow IPC (file format) or Parquet with independent implementations (npm
 * apache-arrow; for Parquet, parquet-wasm, the Rust arrow-rs reader compiled to WebAssembly) and prints each row as
 * one JSON object per line: what a pyarrow or pandas user would get from the same file. The tests compare it with
 * the rows StreamLoader wrote.
 * Usage: node scripts/results_read.js FILE.arrow|FILE.parquet
 * Modules: apache-arrow and parquet-wasm, require()d from $HF_TOKENIZERS_NODE_MODULES (where .ci/run installs them)
 * when set, else by normal resolution. Exit codes: 0 read; 2 usage or unreadable file; 3 a module is missing.
 */
const fs = require('fs');
const oracle = require('./hf_oracle');

const fail = oracle.makeFail('results_read.js');
const [file] = process.argv.slice(2);
if (!file) fail(2, 'usage: node scripts/results_read.js FILE.arrow|FILE.parquet');
const arrow = oracle.loadModule(fail, 'apache-arrow', '', '21.2.0').lib;

let table;
try {
  const bytes = fs.readFileSync(file);
  if (file.endsWith('.parquet')) {
    const parquet = oracle.loadModule(fail, 'parquet-wasm', 'node/parquet_wasm.js', '0.6.1').lib;
    table = arrow.tableFromIPC(parquet.readParquet(bytes).intoIPCStream());
  } else {
    table = arrow.tableFromIPC(bytes);
  }
} catch (e) {
  fail(2, `${file}: ${String((e && e.message) || e).split('\n')[0]}`);
}

/** Arrow values as plain JSON: BigInt as a number, structs as objects, lists as arrays. */
function plain(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'object' && typeof value.toJSON === 'function') return plain(value.toJSON());
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value[Symbol.iterator] && !(value.constructor === Object)) return Array.from(value, plain);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

const names = table.schema.fields.map((f) => f.name);
const out = [];
for (let i = 0; i < table.numRows; i++) {
  const row = {};
  for (const name of names) row[name] = plain(table.getChild(name).get(i));
  out.push(JSON.stringify(row));
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
