'use strict';
/*
 * Writes Arrow IPC files with the npm `apache-arrow` package, an implementation independent of the C# one, for the
 * tests that check StreamLoader's Arrow reader: stream.arrow (IPC stream format, as Hugging Face writes) and
 * file.arrow (IPC file format, ARROW1), each with N rows of id (utf8), text (large_utf8) and labels (list<int32>),
 * in record batches of 7 rows; and dictionary.arrow, dictionary-encoded columns (below).
 * Usage: node scripts/arrow_write.js OUT_DIR [N]
 * Module: require()d from $HF_TOKENIZERS_NODE_MODULES (the oracle's node_modules, where .ci/run installs it) when
 * set, else by normal resolution. Exit codes: 0 written; 2 usage; 3 the module is missing.
 */
const fs = require('fs');
const path = require('path');
const oracle = require('./hf_oracle');

const fail = oracle.makeFail('arrow_write.js');
const [outDir, countText] = process.argv.slice(2);
if (!outDir) fail(2, 'usage: node scripts/arrow_write.js OUT_DIR [N]');
const n = Number(countText || 30);
const arrow = oracle.loadModule(fail, 'apache-arrow', '', '21.2.0').lib;
const { Dictionary, Field, Int8, Int32, LargeUtf8, List, Utf8, makeTable, RecordBatch, Table, tableToIPC, vectorFromArray } = arrow;

const batches = [];
for (let start = 0; start < n; start += 7) {
  const ids = [];
  const texts = [];
  const labels = [];
  for (let i = start; i < Math.min(n, start + 7); i++) {
    ids.push(`r${i}`);
    texts.push(`row ${i} says héllo, "quoted" and\nnew-lined`);
    labels.push(i % 3 === 0 ? [i % 5, (i + 1) % 5] : [i % 5]);
  }
  const table = new Table({
    id: vectorFromArray(ids, new Utf8()),
    text: vectorFromArray(texts, new LargeUtf8()),
    labels: vectorFromArray(labels, new List(new Field('item', new Int32(), true))),
  });
  batches.push(...table.batches);
}
const whole = new Table(batches);
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'stream.arrow'), tableToIPC(whole, 'stream'));
fs.writeFileSync(path.join(outDir, 'file.arrow'), tableToIPC(whole, 'file'));
// dictionary.arrow (IPC stream): the same ids and texts, dictionary-encoded as pandas and some Hugging Face exports
// write them (text: dictionary<int32, utf8> over four distinct texts; id: dictionary<int8, utf8>; tag:
// dictionary<int32, utf8> labels), in one record batch.
const dictionaryRows = [...Array(n).keys()];
const dictionary = new Table({
  id: vectorFromArray(dictionaryRows.map(i => `r${i}`), new Dictionary(new Utf8(), new Int8())),
  text: vectorFromArray(dictionaryRows.map(i => `text number ${i % 4}, héllo`), new Dictionary(new Utf8(), new Int32())),
  tag: vectorFromArray(dictionaryRows.map(i => ['red', 'green', 'blue'][i % 3]), new Dictionary(new Utf8(), new Int32())),
});
fs.writeFileSync(path.join(outDir, 'dictionary.arrow'), tableToIPC(dictionary, 'stream'));
process.stdout.write(`wrote ${n} rows in ${whole.batches.length} record batches to ${outDir}\n`);
