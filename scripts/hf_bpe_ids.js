#!/usr/bin/env node
'use strict';
/*
 * Reference GPT-2 byte-level BPE ids from Hugging Face `tokenizers` (npm @anush008/tokenizers 0.6.0, the Rust
 * library behind a native linux-x64 build). A test oracle, not a speed anchor.
 *
 *   node scripts/hf_bpe_ids.js VOCAB MERGES [options] < docs.jsonl > ids.jsonl
 *   node scripts/hf_bpe_ids.js --check [VOCAB MERGES]
 *
 * stdin:  JSON Lines, {"id": <any JSON value>, "text": "<string>"} per line (blank lines are skipped).
 * stdout: JSON Lines in input order, {"id": <the same id>, "ids": [<int>, ...]} per document.
 *
 * The pipeline is the one the published gpt2 tokenizer.json sets:
 *   no normalizer,
 *   ByteLevel pre-tokenizer {add_prefix_space: false, trim_offsets: true, use_regex: true} (GPT-2's regex split,
 *     then every UTF-8 byte mapped to its printable stand-in),
 *   BPE {vocab: encoder.json, merges: vocab.bpe, dropout: null, unk_token: null, continuing_subword_prefix: null,
 *     end_of_word_suffix: null, fuse_unk: false, byte_fallback: false},
 *   ByteLevel post-processor {trim_offsets: true} (offsets only; it adds no ids),
 *   added_tokens <|endoftext|> (id 50256, special: a literal "<|endoftext|>" in the text is one id),
 *   and nothing added around the document (addSpecialTokens: false).
 * The ByteLevel decoder is not set: this package exports none, and decoding plays no part in the ids.
 *
 * Options:
 *   --vocab PATH            encoder.json (or give it as the first positional argument)
 *   --merges PATH           vocab.bpe (or give it as the second positional argument)
 *   --match-special true|false
 *                           true (default, as tokenizer.json): "<|endoftext|>" written in the text becomes 50256;
 *                           false: it is tokenized as ordinary text ("<", "|", "end", "of", "text", "|", ">"),
 *                           as tiktoken's encode_ordinary does
 *   --batch-chars N         characters of text per encodeBatch call (default 2000000)
 *   --check                 load the module (and the files, if given), print "ok <module path>" and exit 0
 *
 * Module: require()d from $HF_TOKENIZERS_NODE_MODULES (a node_modules folder) when set, else by normal resolution.
 * Exit codes: 0 done; 1 tokenizer failure; 2 usage or input error; 3 the module (or its native build) is missing.
 * Encoding runs on the library's own thread pool (all cores); TOKENIZERS_PARALLELISM=false or RAYON_NUM_THREADS=1
 * keeps it to one.
 */
const fs = require('fs');
const oracle = require('./hf_oracle');

const SPECIAL = ['<|endoftext|>'];

const fail = oracle.makeFail('hf_bpe_ids');

function parseArgs(argv) {
  const opts = oracle.parseArgs(argv, fail, {
    usage: 'usage: hf_bpe_ids.js VOCAB MERGES [--match-special true|false] [--batch-chars N] ' +
      '< docs.jsonl > ids.jsonl\n       hf_bpe_ids.js --check [VOCAB MERGES]\n',
    positional: ['vocab', 'merges'],
    options: { '--vocab': ['vocab', 'string'], '--merges': ['merges', 'string'] },
    defaults: {},
  });
  if (!opts.check || opts.vocab !== null || opts.merges !== null) {
    if (opts.vocab === null) fail(2, 'no vocab given (encoder.json: first argument or --vocab PATH)');
    if (opts.merges === null) fail(2, 'no merges given (vocab.bpe: second argument or --merges PATH)');
  }
  return opts;
}

async function buildTokenizer(lib, vocab, merges, matchSpecial) {
  if (!fs.existsSync(vocab)) fail(2, `vocab not found: ${vocab}`);
  if (!fs.existsSync(merges)) fail(2, `merges not found: ${merges}`);
  // No options: BpeBuilder's defaults are tokenizer.json's (no dropout, no unk token, no prefix or suffix,
  // fuse_unk false, byte_fallback false, ignore_merges false).
  const model = await lib.BPE.fromFile(vocab, merges);
  const tokenizer = new lib.Tokenizer(model);
  // The library's ByteLevel default is add_prefix_space: true; GPT-2's tokenizer.json says false.
  tokenizer.setPreTokenizer(lib.byteLevelPreTokenizer(false, true));
  tokenizer.setPostProcessor(lib.byteLevelProcessing(true));
  if (tokenizer.tokenToId('Ġthe') == null) fail(2, `${vocab} does not look like a byte-level BPE vocab (no "Ġthe")`);
  if (matchSpecial) {
    // Only those in the vocab, so the added token keeps its vocab id (50256), as in tokenizer.json.
    const present = SPECIAL.filter((t) => tokenizer.tokenToId(t) != null);
    tokenizer.addSpecialTokens(present);
  }
  return tokenizer;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { lib, where } = oracle.loadModule(fail);
  if (opts.check) {
    if (opts.vocab !== null) await buildTokenizer(lib, opts.vocab, opts.merges, opts.matchSpecial);
    process.stdout.write(`ok ${where}\n`);
    return;
  }
  const tokenizer = await buildTokenizer(lib, opts.vocab, opts.merges, opts.matchSpecial);
  await oracle.encodeJsonLines(tokenizer, opts.batchChars, fail);
}

main().catch((e) => fail(1, `tokenizer failure: ${(e && e.stack) || e}`));
