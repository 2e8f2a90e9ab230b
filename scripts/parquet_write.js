'use strict';
/*
 * Writes a Parquet file with npm `parquet-wasm` (the Rust arrow-rs Parquet writer compiled to WebAssembly), an
 * implementation independent of the .NET one, for the tests that check StreamLoader's Parquet reader: N rows of
 * id (utf8), text (utf8), label (int64) and tags (list<int64>), snappy-compressed, in row groups of 7 rows.
 * Usage: node scripts/parquet_write.js OUT_FILE [N]
 * Modules: apache-arrow and parquet-wasm, require()d from $HF_TOKENIZERS_NODE_MODULES (where .ci/run installs them)
 * when set, else by normal resolution. Exit codes: 0 written; 2 usage; 3 a module is missing.
 */
const fs = require('fs');
const oracle = require('./hf_oracle');

const fail = oracle.makeFail('parquet_write.js');
const [out, countText] = process.argv.slice(2);
if (!out) fail(2, 'usage: node scripts/parquet_write.js OUT_FILE [N]');
const n = Number(countText || 30);
const arrow = oracle.loadModule(fail, 'apache-arrow', '', '21.2.0').lib;
const parquet = oracle.loadModule(fail, 'parquet-wasm', 'node/parquet_wasm.js', '0.6.1').lib;
const { Field, Int64, List, Table, Utf8, tableToIPC, vectorFromArray } = arrow;

const ids = [];
const texts = [];
const labels = [];
const tags = [];
for (let i = 0; i < n; i++) {
  ids.push(`p${i}`);
  texts.push(`parquet row ${i}: "quoted", ünïcödé`);
  labels.push(BigInt(i % 4));
  tags.push(i % 2 === 0 ? [BigInt(i), BigInt(i + 1)] : []);
}
const table = new Table({
  id: vectorFromArray(ids, new Utf8()),
  text: vectorFromArray(texts, new Utf8()),
  label: vectorFromArray(labels, new Int64()),
  tags: vectorFromArray(tags, new List(new Field('item', new Int64(), true))),
});
const properties = new parquet.WriterPropertiesBuilder().setCompression(parquet.Compression.SNAPPY).setMaxRowGroupSize(7).build();
fs.writeFileSync(out, parquet.writeParquet(parquet.Table.fromIPCStream(tableToIPC(table, 'stream')), properties));
process.stdout.write(`wrote ${n} rows to ${out}\n`);
