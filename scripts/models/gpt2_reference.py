#!/usr/bin/env python3
"""A reference for StreamLoader's GPT-2: writes a random-weight GPT2LMHeadModel folder under Hugging Face's names
(config.json, model.safetensors; Conv1D weights stored [in, out] as GPT-2 stores them) and the logits stock PyTorch
modules compute from it on random padded batches (reference.json). Nothing of transformers is used: the blocks are
torch.nn.TransformerEncoderLayer with norm_first (pre-norm), GELU (tanh form) and a causal mask, holding the Conv1D
weights transposed; the LM head is the token embedding, tied.

usage: gpt2_reference.py OUT_DIR [--vocab 256] [--seed 1] [--no-reference] [--weights model.safetensors]        (Debian's python3-torch)
--weights FILE computes the reference from FILE's tensors (a model StreamLoader exported) instead of random ones.
--no-reference writes the folder alone (a test model for training, with GPT-2's 50257 ids, say).
--tokenizer ENCODER_JSON VOCAB_BPE also writes GPT-2's tokenizer.json from its encoder.json and vocab.bpe, as the
gpt2 model page ships it (byte-level BPE, <|endoftext|> the one added token), so the folder is complete.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402  (beside this script)



def write_tokenizer(path, encoder_json, vocab_bpe):
    with open(encoder_json, encoding="utf-8") as f:
        vocab = json.load(f)
    with open(vocab_bpe, encoding="utf-8") as f:
        merges = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#version")]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": True, "special": True}],
        "normalizer": None, "pre_tokenizer": byte_level, "post_processor": byte_level, "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)


def main():
    out = sys.argv[1]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    vocab = int(sys.argv[sys.argv.index("--vocab") + 1]) if "--vocab" in sys.argv else 256
    reference = "--no-reference" not in sys.argv
    torch.manual_seed(seed)
    hidden, layers, heads, positions, eps = 64, 2, 4, 128, 1e-5
    w = {}

    def param(name, *shape, scale=0.02, base=0.0):
        w[name] = base + torch.randn(*shape) * scale

    param("transformer.wte.weight", vocab, hidden)
    param("transformer.wpe.weight", positions, hidden, scale=0.01)
    for i in range(layers):
        p = f"transformer.h.{i}."
        for norm in ("ln_1", "ln_2"):
            param(p + norm + ".weight", hidden, scale=0.1, base=1.0)
            param(p + norm + ".bias", hidden, scale=0.1)
        for name, shape in (("attn.c_attn", (hidden, 3 * hidden)), ("attn.c_proj", (hidden, hidden)), ("mlp.c_fc", (hidden, 4 * hidden)), ("mlp.c_proj", (4 * hidden, hidden))):
            param(p + name + ".weight", *shape, scale=0.1)
            param(p + name + ".bias", shape[1], scale=0.1)
    param("transformer.ln_f.weight", hidden, scale=0.1, base=1.0)
    param("transformer.ln_f.bias", hidden, scale=0.1)
    safetensors_io.override(sys.argv, w)

    blocks = []
    for i in range(layers):
        p = f"transformer.h.{i}."
        block = nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout=0.0, activation=lambda x: F.gelu(x, approximate="tanh"),
                                           layer_norm_eps=eps, batch_first=True, norm_first=True)
        block.self_attn.in_proj_weight.data = w[p + "attn.c_attn.weight"].t().contiguous()
        block.self_attn.in_proj_bias.data = w[p + "attn.c_attn.bias"]
        block.self_attn.out_proj.weight.data = w[p + "attn.c_proj.weight"].t().contiguous()
        block.self_attn.out_proj.bias.data = w[p + "attn.c_proj.bias"]
        block.linear1.weight.data, block.linear1.bias.data = w[p + "mlp.c_fc.weight"].t().contiguous(), w[p + "mlp.c_fc.bias"]
        block.linear2.weight.data, block.linear2.bias.data = w[p + "mlp.c_proj.weight"].t().contiguous(), w[p + "mlp.c_proj.bias"]
        block.norm1.weight.data, block.norm1.bias.data = w[p + "ln_1.weight"], w[p + "ln_1.bias"]
        block.norm2.weight.data, block.norm2.bias.data = w[p + "ln_2.weight"], w[p + "ln_2.bias"]
        block.eval()
        blocks.append(block)
    ln_f = nn.LayerNorm(hidden, eps=eps)
    ln_f.weight.data, ln_f.bias.data = w["transformer.ln_f.weight"], w["transformer.ln_f.bias"]

    batches = []
    generator = torch.Generator().manual_seed(seed + 1)
    for rows, width in ((3, 16), (4, 48), (2, 128)) if reference else ():
        lengths = torch.randint(2, width + 1, (rows,), generator=generator)
        lengths[0] = width
        mask = (torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)).long()
        ids = torch.randint(0, vocab, (rows, width), generator=generator) * mask
        causal = torch.triu(torch.full((width, width), float("-inf")), diagonal=1)
        with torch.no_grad():
            x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:width].unsqueeze(0)
            for block in blocks:
                x = block(x, src_mask=causal)
            logits = ln_f(x) @ w["transformer.wte.weight"].t()
        # Only the real tokens' logits are compared (a padded position's own logits depend on how padding is masked).
        real = [[logits[r, t].tolist() for t in range(int(lengths[r]))] for r in range(rows)]
        batches.append({"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "logits": real})

    os.makedirs(out, exist_ok=True)
    safetensors_io.write(os.path.join(out, "model.safetensors"), w)
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": vocab, "n_embd": hidden, "n_layer": layers,
              "n_head": heads, "n_positions": positions, "n_ctx": positions, "layer_norm_epsilon": eps, "activation_function": "gelu_new",
              "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "bos_token_id": 50256, "eos_token_id": 50256}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if reference:
        with open(os.path.join(out, "reference.json"), "w") as f:
            json.dump({"torch": torch.__version__, "batches": batches}, f)
    if "--tokenizer" in sys.argv:
        at = sys.argv.index("--tokenizer")
        write_tokenizer(os.path.join(out, "tokenizer.json"), sys.argv[at + 1], sys.argv[at + 2])
    print(f"{out}: gpt2, {len(w)} tensors, {len(batches)} batches, torch {torch.__version__}")


if __name__ == "__main__":
    main()
