'use strict';
/*
 * What the Hugging Face oracle scripts (hf_wordpiece_ids.js, hf_bpe_ids.js) share: loading the npm package
 * @anush008/tokenizers (the Rust `tokenizers` library as a native Node module), and turning JSON Lines of
 * {"id", "text"} on stdin into JSON Lines of {"id", "ids"} on stdout, in input order, with encodeBatch.
 * Exit codes: 0 done; 1 tokenizer failure; 2 usage or input error; 3 the module (or its native build) is missing.
 */
const path = require('path');
const readline = require('readline');

const MODULE = '@anush008/tokenizers';

/** A fail(code, message) that prefixes the script's name and exits. */
function makeFail(name) {
  return (code, message) => {
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(code);
  };
}

function firstLine(e) {
  return String((e && e.message) || e).split('\n')[0];
}

/**
 * Parses the command line both scripts share: positional files, --match-special true|false (default true),
 * --batch-chars N (default 2000000), --check and --help, plus the script's own options.
 * spec: { usage, positional: ['vocab', ...], options: { '--name': ['key', 'string' | 'bool'] }, defaults: {...} }.
 */
function parseArgs(argv, fail, spec) {
  const opts = { matchSpecial: true, batchChars: 2000000, check: false, ...spec.defaults };
  const options = { '--match-special': ['matchSpecial', 'bool'], '--batch-chars': ['batchChars', 'count'], ...spec.options };
  for (const name of spec.positional) if (!(name in opts)) opts[name] = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') {
      opts.check = true;
    } else if (a === '-h' || a === '--help') {
      process.stdout.write(spec.usage);
      process.exit(0);
    } else if (a in options) {
      if (i + 1 >= argv.length) fail(2, `${a} needs a value`);
      const v = argv[++i];
      const [key, kind] = options[a];
      if (kind === 'bool') {
        if (v !== 'true' && v !== 'false') fail(2, `${a} takes true or false, not ${JSON.stringify(v)}`);
        opts[key] = v === 'true';
      } else if (kind === 'count') {
        opts[key] = Number(v);
        if (!Number.isInteger(opts[key]) || opts[key] < 1) fail(2, `${a} takes a positive integer, not ${v}`);
      } else {
        opts[key] = v;
      }
    } else if (!a.startsWith('--') && spec.positional.some((name) => opts[name] === null)) {
      opts[spec.positional.find((name) => opts[name] === null)] = a;
    } else {
      fail(2, `unknown argument ${JSON.stringify(a)} (see --help)`);
    }
  }
  return opts;
}

/**
 * Loads an npm package (by default the tokenizers oracle) from $HF_TOKENIZERS_NODE_MODULES, else by normal
 * resolution; exits 3 naming both places. entry is a file inside the package ('' for its main), version the one
 * .ci/run installs.
 */
function loadModule(fail, name = MODULE, entry = '', version = '0.6.0') {
  const tried = [];
  const dir = process.env.HF_TOKENIZERS_NODE_MODULES;
  const target = entry ? `${name}/${entry}` : name;
  if (dir) {
    const p = path.join(path.resolve(dir), ...target.split('/'));
    try {
      return { lib: require(p), where: require.resolve(p) };
    } catch (e) {
      tried.push(`${p} (HF_TOKENIZERS_NODE_MODULES): ${firstLine(e)}`);
    }
  }
  try {
    return { lib: require(target), where: require.resolve(target) };
  } catch (e) {
    tried.push(`require('${target}'): ${firstLine(e)}`);
  }
  return fail(3, `the npm package ${name} could not be loaded.\n` +
    `  tried: ${tried.join('\n  tried: ')}\n` +
    `  install it with: npm install --prefix "$HOME/.cache/streamloader-oracle" ${name}@${version}\n` +
    '  and set HF_TOKENIZERS_NODE_MODULES="$HOME/.cache/streamloader-oracle/node_modules"');
}

function writeOut(s) {
  if (process.stdout.write(s)) return null;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

/** Encodes every {"id","text"} line of stdin, about batchChars characters per encodeBatch call, and writes {"id","ids"} lines. */
async function encodeJsonLines(tokenizer, batchChars, fail, encodeOptions = { addSpecialTokens: false }) {
  let ids = [];
  let texts = [];
  let chars = 0;
  const flush = async () => {
    if (texts.length === 0) return;
    const encodings = await tokenizer.encodeBatch(texts, encodeOptions);
    if (encodings.length !== texts.length) throw new Error(`encodeBatch returned ${encodings.length} encodings for ${texts.length} texts`);
    let out = '';
    for (let i = 0; i < encodings.length; i++) {
      out += JSON.stringify({ id: ids[i], ids: encodings[i].getIds() }) + '\n';
      if (out.length > 4 * 1024 * 1024) {
        const w = writeOut(out);
        if (w) await w;
        out = '';
      }
    }
    const w = writeOut(out);
    if (w) await w;
    ids = [];
    texts = [];
    chars = 0;
  };

  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    if (line.trim() === '') continue;
    let doc;
    try {
      doc = JSON.parse(line);
    } catch (e) {
      fail(2, `stdin line ${lineNo}: not JSON: ${firstLine(e)}`);
    }
    if (doc === null || typeof doc !== 'object' || typeof doc.text !== 'string' || !('id' in doc)) {
      fail(2, `stdin line ${lineNo}: expected {"id": ..., "text": "<string>"}`);
    }
    ids.push(doc.id);
    texts.push(doc.text);
    chars += doc.text.length;
    if (chars >= batchChars) await flush();
  }
  await flush();
}

module.exports = { makeFail, parseArgs, loadModule, encodeJsonLines };
