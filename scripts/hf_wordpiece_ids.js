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
  const opts = { vocab: null, lowercase: null, matchSpecial: true, batchChars: 2000000, check: false };
  const bool = (name, v) => {
    if (v === 'true') return true;
    if (v === 'false') return false;
    fail(2, `${name} takes true or false, not ${JSON.stringify(v)}`);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) fail(2, `${a} needs a value`);
      return argv[++i];
    };
    if (a === '--vocab') opts.vocab = next();
    else if (a === '--lowercase') opts.lowercase = bool(a, next());
    else if (a === '--match-special') opts.matchSpecial = bool(a, next());
    else if (a === '--batch-chars') {
      const v = next();
      opts.batchChars = Number(v);
      if (!Number.isInteger(opts.batchChars) || opts.batchChars < 1) fail(2, `--batch-chars takes a positive integer, not ${v}`);
    } else if (a === '--check') opts.check = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: hf_wordpiece_ids.js VOCAB --lowercase true|false [--match-special true|false] ' +
        '[--batch-chars N] < docs.jsonl > ids.jsonl\n       hf_wordpiece_ids.js --check [VOCAB]\n');
      process.exit(0);
    } else if (!a.startsWith('--') && opts.vocab === null) opts.vocab = a;
    else fail(2, `unknown argument ${JSON.stringify(a)} (see --help)`);
  }
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
