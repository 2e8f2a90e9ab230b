#!/usr/bin/env node
'use strict';
/*
 * Reference ids from Hugging Face `tokenizers` (npm @anush008/tokenizers 0.6.0) for any tokenizer.json, loaded with
 * Tokenizer.fromFile exactly as published: its normalizer, pre-tokenizer, model, added tokens and post-processor.
 *
 *   node scripts/hf_json_ids.js TOKENIZER_JSON [--add-special true|false] < docs.jsonl > ids.jsonl
 *   node scripts/hf_json_ids.js --check [TOKENIZER_JSON]
 *
 * stdin:  JSON Lines, {"id": <any JSON value>, "text": "<string>"} per line.
 * stdout: JSON Lines in input order, {"id": <the same id>, "ids": [<int>, ...]} per document.
 * --add-special false (default) encodes without the post-processor's special tokens (addSpecialTokens: false);
 * true adds them, as a model's own preprocessing does.
 * Exit codes: 0 done; 1 tokenizer failure; 2 usage or input error; 3 the module is missing.
 */
const fs = require('fs');
const oracle = require('./hf_oracle');

const fail = oracle.makeFail('hf_json_ids');

async function main() {
  const opts = oracle.parseArgs(process.argv.slice(2), fail, {
    usage: 'usage: hf_json_ids.js TOKENIZER_JSON [--add-special true|false] < docs.jsonl > ids.jsonl\n       hf_json_ids.js --check [TOKENIZER_JSON]\n',
    positional: ['file'],
    options: { '--add-special': ['addSpecial', 'bool'] },
    defaults: { addSpecial: false },
  });
  const { lib, where } = oracle.loadModule(fail);
  if (opts.file !== null && !fs.existsSync(opts.file)) fail(2, `tokenizer.json not found: ${opts.file}`);
  const tokenizer = opts.file !== null ? lib.Tokenizer.fromFile(opts.file) : null;
  if (opts.check) {
    process.stdout.write(`ok ${where}\n`);
    return;
  }
  if (tokenizer === null) fail(2, 'no tokenizer.json given');
  await oracle.encodeJsonLines(tokenizer, opts.batchChars, fail, { addSpecialTokens: opts.addSpecial });
}

main().catch((e) => fail(1, `tokenizer failure: ${(e && e.stack) || e}`));
