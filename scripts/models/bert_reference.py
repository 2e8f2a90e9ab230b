#!/usr/bin/env python3
"""A reference for StreamLoader's BERT: writes a random-weight BertForSequenceClassification folder under Hugging Face's
names (config.json with id2label, model.safetensors) and the logits that stock PyTorch modules compute from it on
random padded batches (reference.json). Nothing of transformers is used: the layers are torch.nn.TransformerEncoderLayer
(post-norm, GELU, the config's layer_norm_eps), whose weights are the BERT ones (query/key/value stacked into in_proj).

usage: bert_reference.py OUT_DIR [--seed 1]        (Debian's python3-torch)
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn


def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name in sorted(tensors):
        size = tensors[name].numel() * 4
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for name in sorted(tensors):
            out.write(tensors[name].contiguous().numpy().astype(np.float32).tobytes())


def main():
    out = sys.argv[1]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    torch.manual_seed(seed)
    vocab, hidden, layers, heads, inter, positions, eps = 1000, 64, 2, 4, 256, 64, 1e-12
    labels = ["alpha", "beta", "gamma"]
    w = {}

    def param(name, *shape, scale=0.02, base=0.0):
        w[name] = base + torch.randn(*shape) * scale

    param("bert.embeddings.word_embeddings.weight", vocab, hidden)
    param("bert.embeddings.position_embeddings.weight", positions, hidden)
    param("bert.embeddings.token_type_embeddings.weight", 2, hidden)
    param("bert.embeddings.LayerNorm.weight", hidden, scale=0.1, base=1.0)
    param("bert.embeddings.LayerNorm.bias", hidden, scale=0.1)
    for i in range(layers):
        p = f"bert.encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            param(p + name + ".weight", hidden, hidden, scale=0.1)
            param(p + name + ".bias", hidden, scale=0.1)
        param(p + "intermediate.dense.weight", inter, hidden, scale=0.1)
        param(p + "intermediate.dense.bias", inter, scale=0.1)
        param(p + "output.dense.weight", hidden, inter, scale=0.1)
        param(p + "output.dense.bias", hidden, scale=0.1)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            param(p + norm + ".weight", hidden, scale=0.1, base=1.0)
            param(p + norm + ".bias", hidden, scale=0.1)
    param("bert.pooler.dense.weight", hidden, hidden, scale=0.1)
    param("bert.pooler.dense.bias", hidden, scale=0.1)
    param("classifier.weight", len(labels), hidden, scale=0.3)
    param("classifier.bias", len(labels), scale=0.1)

    # The reference: stock modules, loaded from the same tensors.
    embed_norm = nn.LayerNorm(hidden, eps=eps)
    embed_norm.weight.data, embed_norm.bias.data = w["bert.embeddings.LayerNorm.weight"], w["bert.embeddings.LayerNorm.bias"]
    blocks = []
    for i in range(layers):
        p = f"bert.encoder.layer.{i}."
        block = nn.TransformerEncoderLayer(hidden, heads, inter, dropout=0.0, activation="gelu", layer_norm_eps=eps, batch_first=True, norm_first=False)
        block.self_attn.in_proj_weight.data = torch.cat([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")])
        block.self_attn.in_proj_bias.data = torch.cat([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
        block.self_attn.out_proj.weight.data, block.self_attn.out_proj.bias.data = w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"]
        block.linear1.weight.data, block.linear1.bias.data = w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]
        block.linear2.weight.data, block.linear2.bias.data = w[p + "output.dense.weight"], w[p + "output.dense.bias"]
        block.norm1.weight.data, block.norm1.bias.data = w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]
        block.norm2.weight.data, block.norm2.bias.data = w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
        block.eval()
        blocks.append(block)
    pooler = nn.Linear(hidden, hidden)
    pooler.weight.data, pooler.bias.data = w["bert.pooler.dense.weight"], w["bert.pooler.dense.bias"]
    classifier = nn.Linear(hidden, len(labels))
    classifier.weight.data, classifier.bias.data = w["classifier.weight"], w["classifier.bias"]

    batches = []
    generator = torch.Generator().manual_seed(seed + 1)
    for rows, width in ((4, 16), (3, 40), (5, 64)):
        lengths = torch.randint(2, width + 1, (rows,), generator=generator)
        lengths[0] = width
        ids = torch.randint(1, vocab, (rows, width), generator=generator)
        mask = (torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)).long()
        ids = ids * mask
        with torch.no_grad():
            x = w["bert.embeddings.word_embeddings.weight"][ids] + w["bert.embeddings.position_embeddings.weight"][:width].unsqueeze(0) + w["bert.embeddings.token_type_embeddings.weight"][0]
            x = embed_norm(x)
            for block in blocks:
                x = block(x, src_key_padding_mask=mask == 0)
            logits = classifier(torch.tanh(pooler(x[:, 0])))
        batches.append({"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "logits": logits.tolist()})

    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "model.safetensors"), w)
    config = {
        "architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": vocab, "hidden_size": hidden,
        "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": inter, "max_position_embeddings": positions,
        "type_vocab_size": 2, "layer_norm_eps": eps, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "id2label": {str(i): n for i, n in enumerate(labels)}, "label2id": {n: i for i, n in enumerate(labels)},
        "problem_type": "single_label_classification",
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"torch": torch.__version__, "batches": batches}, f)
    print(f"{out}: {len(w)} tensors, {len(batches)} batches, torch {torch.__version__}")


if __name__ == "__main__":
    main()
