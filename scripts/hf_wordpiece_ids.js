#!/usr/bin/env node
'use strict';
/*
 * Reference BERT WordPiece ids from Hugging Face `tokenizers` (npm @anush008/tokenizers 0.6.0, the Rust
 * library behind a native linux-x64 build). A test oracle, not a speed anchor.
 *
 *   node scripts/hf_wordpiece_ids.js VOCAB --lowercase true|false [options] < docs.jsonl > ids.jsonl
 *   node scripts/hf_wordpiece_ids.js --check [VOCAB]
 *
 * stdin:  JSON Lines, {"id": <any JSON value>, "text": "<string>"} per line (blank lines are skipped).
 * stdout: JSON Lines in input order, {"id": <the same id>, "ids": [<int>, ...]} per document.
 *
 * The pipeline is the one bert-base-uncased's (and bert-base-cased's) tokenizer.json sets:
 *   BertNormalizer{clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: L}
 *     (strip_accents null follows lowercase: --lowercase true strips accents, false keeps them),
 *   BertPreTokenizer,
 *   WordPiece{unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100},
 *   added_tokens [PAD] [UNK] [CLS] [SEP] [MASK] (special, not normalized: a literal "[CLS]" in the text is one id),
 *   and no [CLS]/[SEP] around the document (addSpecialTokens: false).
 *
 * Options:
 *   --vocab PATH            the vocab.txt (or give it as the first positional argument)
 *   --lowercase true|false  uncased vocab: true (lowercase + strip accents); cased vocab: false (neither)
 *   --match-special true|false
 *                           true (default, as tokenizer.json): [PAD] [UNK] [CLS] [SEP] [MASK] written in the
 *                           text become their ids; false: they are tokenized as ordinary text ("[", "cl", "##s", "]")
 *   --batch-chars N         characters of text per encodeBatch call (default 2000000)
 *   --check                 load the module (and the vocab, if given), print "ok <module path>" and exit 0
 *
 * Module: require()d from $HF_TOKENIZERS_NODE_MODULES (a node_modules folder) when set, else by normal resolution.
 * Exit codes: 0 done; 1 tokenizer failure; 2 usage or input error; 3 the module (or its native build) is missing.
 * Encoding runs on the library's own thread pool (all cores); TOKENIZERS_PARALLELISM=false or RAYON_NUM_THREADS=1
 * keeps it to one.
 */
const fs = require('fs');
const oracle = require('./hf_oracle');

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

const fail = oracle.makeFail('hf_wordpiece_ids');

function parseArgs(argv) {
  const opts = oracle.parseArgs(argv, fail, {
    usage: 'usage: hf_wordpiece_ids.js VOCAB --lowercase true|false [--match-special true|false] ' +
      '[--batch-chars N] < docs.jsonl > ids.jsonl\n       hf_wordpiece_ids.js --check [VOCAB]\n',
    positional: ['vocab'],
    options: { '--vocab': ['vocab', 'string'], '--lowercase': ['lowercase', 'bool'] },
    defaults: { lowercase: null },
  });
  if (!opts.check) {
    if (opts.vocab === null) fail(2, 'no vocab given (first argument or --vocab PATH)');
    if (opts.lowercase === null) fail(2, '--lowercase true|false is required (true for an uncased vocab, false for a cased one)');
  }
  return opts;
}

async function buildTokenizer(lib, vocab, lowercase, matchSpecial) {
  if (!fs.existsSync(vocab)) fail(2, `vocab not found: ${vocab}`);
  const model = await lib.WordPiece.fromFile(vocab, {
    unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100,
  });
  const tokenizer = new lib.Tokenizer(model);
  tokenizer.setNormalizer(lib.bertNormalizer({
    cleanText: true, handleChineseChars: true, stripAccents: lowercase, lowercase,
  }));
  tokenizer.setPreTokenizer(lib.bertPreTokenizer());
  if (tokenizer.tokenToId('[UNK]') == null) fail(2, `the vocab ${vocab} has no [UNK]`);
  if (matchSpecial) {
    // Only those in the vocab, so the added tokens keep their vocab ids, as in tokenizer.json.
    const present = SPECIAL.filter((t) => tokenizer.tokenToId(t) != null);
    tokenizer.addSpecialTokens(present);
  }
  return tokenizer;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { lib, where } = oracle.loadModule(fail);
  if (opts.check) {
    if (opts.vocab !== null) await buildTokenizer(lib, opts.vocab, opts.lowercase !== false, opts.matchSpecial);
    process.stdout.write(`ok ${where}\n`);
    return;
  }
  const tokenizer = await buildTokenizer(lib, opts.vocab, opts.lowercase, opts.matchSpecial);
  await oracle.encodeJsonLines(tokenizer, opts.batchChars, fail);
}

main().catch((e) => fail(1, `tokenizer failure: ${(e && e.stack) || e}`));
