#!/usr/bin/env bash
# Puts what a GPU run (scripts/gpu/run-gpu.sh, docs/GPU.md) needs into .carry/ (git-ignored, carried to the device machine): the self-contained build and
# the corpus and vocabulary from ../shared/data (shared/ beside the checkout does not travel).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/publish-selfcontained.sh
rm -rf .carry && mkdir -p .carry
cp artifacts/streamloader-linux-x64.tar.gz .carry/
cp ../shared/data/text/python3.11-doc-3.11.2-rst.jsonl.gz ../shared/data/tokenizers/bert-base-uncased-vocab.txt .carry/
du -sh .carry
