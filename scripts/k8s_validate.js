'use strict';
/*
 * Validates Kubernetes manifests (YAML, several documents) against the API's own schemas, with npm
 * `kubernetes-models` (JSON schemas generated from the Kubernetes OpenAPI spec, checked by ajv) and `js-yaml`: no
 * cluster needed. Prints one JSON line per document: {"kind", "name", "valid", "errors"}.
 * Usage: node scripts/k8s_validate.js MANIFEST.yaml
 * Modules: require()d from $HF_TOKENIZERS_NODE_MODULES (where .ci/run installs them) when set, else by normal
 * resolution. Exit codes: 0 every document valid; 1 one is not; 2 usage or unknown kind; 3 a module is missing.
 */
const fs = require('fs');
const oracle = require('./hf_oracle');

const fail = oracle.makeFail('k8s_validate.js');
const [file] = process.argv.slice(2);
if (!file) fail(2, 'usage: node scripts/k8s_validate.js MANIFEST.yaml');
const yaml = oracle.loadModule(fail, 'js-yaml', '', '4.1.0').lib;
// Loaded by file: the package's "exports" map does not offer its per-kind modules to require().
const kinds = {
  'batch/v1/Job': oracle.loadModule(fail, 'kubernetes-models', 'batch/v1/Job.js', '5.1.0').lib.Job,
  'v1/Pod': oracle.loadModule(fail, 'kubernetes-models', 'v1/Pod.js', '5.1.0').lib.Pod,
};

let invalid = 0;
for (const doc of yaml.loadAll(fs.readFileSync(file, 'utf8')).filter(Boolean)) {
  const Kind = kinds[`${doc.apiVersion}/${doc.kind}`];
  if (!Kind) fail(2, `no schema here for apiVersion ${doc.apiVersion}, kind ${doc.kind}`);
  let errors = null;
  try {
    new Kind(doc).validate();
  } catch (e) {
    errors = String(e.message);
    invalid++;
  }
  process.stdout.write(JSON.stringify({ kind: doc.kind, name: doc.metadata && doc.metadata.name, valid: !errors, errors }) + '\n');
}
process.exit(invalid ? 1 : 0);
