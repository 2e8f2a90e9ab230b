#!/usr/bin/env python3
"""A reference for StreamLoader's BERT-family encoders: writes a random-weight ...ForSequenceClassification folder
(BERT, RoBERTa or DistilBERT) under Hugging Face's names (config.json with id2label, model.safetensors) and the logits
that stock PyTorch modules compute from it on random padded batches (reference.json). Nothing of transformers is used:
the blocks are torch.nn.TransformerEncoderLayer (post-norm, GELU, eps 1e-12) holding the family's weights (query, key
and value stacked into in_proj), the heads nn.Linear; RoBERTa's positions are counted after the padding id.

usage: bert_reference.py OUT_DIR [--family bert|roberta|distilbert] [--mlm] [--seed 1] [--weights model.safetensors]        (Debian's python3-torch)
--mlm (bert) writes a BertForMaskedLM instead, and every real token's vocabulary logits.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402  (beside this script)



def build(family, seed, mlm=False):
    """The folder's tensors (Hugging Face names), its config, and the stock modules holding the same weights."""
    torch.manual_seed(seed)
    vocab, hidden, layers, heads, inter, eps = 1000, 64, 2, 4, 256, 1e-12
    pad = 1 if family == "roberta" else 0
    positions = 66 if family == "roberta" else 64
    labels = ["alpha", "beta", "gamma"]
    w = {}

    def param(name, *shape, scale=0.02, base=0.0):
        w[name] = base + torch.randn(*shape) * scale

    # Per family: where each piece of a post-norm block lives in the file.
    if family == "distilbert":
        body, embed = "distilbert.", "distilbert.embeddings."
        block_names = lambda i: {
            "query": f"distilbert.transformer.layer.{i}.attention.q_lin", "key": f"distilbert.transformer.layer.{i}.attention.k_lin",
            "value": f"distilbert.transformer.layer.{i}.attention.v_lin", "attn_out": f"distilbert.transformer.layer.{i}.attention.out_lin",
            "norm1": f"distilbert.transformer.layer.{i}.sa_layer_norm", "ffn_in": f"distilbert.transformer.layer.{i}.ffn.lin1",
            "ffn_out": f"distilbert.transformer.layer.{i}.ffn.lin2", "norm2": f"distilbert.transformer.layer.{i}.output_layer_norm"}
    else:
        body = "roberta." if family == "roberta" else "bert."
        embed = body + "embeddings."
        block_names = lambda i: {
            "query": f"{body}encoder.layer.{i}.attention.self.query", "key": f"{body}encoder.layer.{i}.attention.self.key",
            "value": f"{body}encoder.layer.{i}.attention.self.value", "attn_out": f"{body}encoder.layer.{i}.attention.output.dense",
            "norm1": f"{body}encoder.layer.{i}.attention.output.LayerNorm", "ffn_in": f"{body}encoder.layer.{i}.intermediate.dense",
            "ffn_out": f"{body}encoder.layer.{i}.output.dense", "norm2": f"{body}encoder.layer.{i}.output.LayerNorm"}

    param(embed + "word_embeddings.weight", vocab, hidden)
    param(embed + "position_embeddings.weight", positions, hidden)
    if family != "distilbert":
        param(embed + "token_type_embeddings.weight", 1 if family == "roberta" else 2, hidden)
    param(embed + "LayerNorm.weight", hidden, scale=0.1, base=1.0)
    param(embed + "LayerNorm.bias", hidden, scale=0.1)
    for i in range(layers):
        n = block_names(i)
        for key, shape in (("query", (hidden, hidden)), ("key", (hidden, hidden)), ("value", (hidden, hidden)), ("attn_out", (hidden, hidden)), ("ffn_in", (inter, hidden)), ("ffn_out", (hidden, inter))):
            param(n[key] + ".weight", *shape, scale=0.1)
            param(n[key] + ".bias", shape[0], scale=0.1)
        for key in ("norm1", "norm2"):
            param(n[key] + ".weight", hidden, scale=0.1, base=1.0)
            param(n[key] + ".bias", hidden, scale=0.1)
    if mlm:
        param("cls.predictions.transform.dense.weight", hidden, hidden, scale=0.1)
        param("cls.predictions.transform.dense.bias", hidden, scale=0.1)
        param("cls.predictions.transform.LayerNorm.weight", hidden, scale=0.1, base=1.0)
        param("cls.predictions.transform.LayerNorm.bias", hidden, scale=0.1)
        param("cls.predictions.bias", vocab, scale=0.1)
        head = []
    elif family == "bert":
        param("bert.pooler.dense.weight", hidden, hidden, scale=0.1)
        param("bert.pooler.dense.bias", hidden, scale=0.1)
        head = [("bert.pooler.dense", torch.tanh), ("classifier", None)]
    elif family == "roberta":
        head = [("classifier.dense", torch.tanh), ("classifier.out_proj", None)]
    else:
        head = [("pre_classifier", torch.relu), ("classifier", None)]
    for name, _ in head:
        out = len(labels) if name in ("classifier", "classifier.out_proj") else hidden
        param(name + ".weight", out, hidden, scale=0.3)
        param(name + ".bias", out, scale=0.1)
    safetensors_io.override(sys.argv, w)

    embed_norm = nn.LayerNorm(hidden, eps=eps)
    embed_norm.weight.data, embed_norm.bias.data = w[embed + "LayerNorm.weight"], w[embed + "LayerNorm.bias"]
    blocks = []
    for i in range(layers):
        n = block_names(i)
        block = nn.TransformerEncoderLayer(hidden, heads, inter, dropout=0.0, activation="gelu", layer_norm_eps=eps, batch_first=True, norm_first=False)
        block.self_attn.in_proj_weight.data = torch.cat([w[n[k] + ".weight"] for k in ("query", "key", "value")])
        block.self_attn.in_proj_bias.data = torch.cat([w[n[k] + ".bias"] for k in ("query", "key", "value")])
        block.self_attn.out_proj.weight.data, block.self_attn.out_proj.bias.data = w[n["attn_out"] + ".weight"], w[n["attn_out"] + ".bias"]
        block.linear1.weight.data, block.linear1.bias.data = w[n["ffn_in"] + ".weight"], w[n["ffn_in"] + ".bias"]
        block.linear2.weight.data, block.linear2.bias.data = w[n["ffn_out"] + ".weight"], w[n["ffn_out"] + ".bias"]
        block.norm1.weight.data, block.norm1.bias.data = w[n["norm1"] + ".weight"], w[n["norm1"] + ".bias"]
        block.norm2.weight.data, block.norm2.bias.data = w[n["norm2"] + ".weight"], w[n["norm2"] + ".bias"]
        block.eval()
        blocks.append(block)
    head_modules = []
    for name, activation in head:
        linear = nn.Linear(w[name + ".weight"].shape[1], w[name + ".weight"].shape[0])
        linear.weight.data, linear.bias.data = w[name + ".weight"], w[name + ".bias"]
        head_modules.append((linear, activation))

    def forward(ids, mask):
        width = ids.shape[1]
        if family == "roberta":
            real = (ids != pad).long()
            position_ids = torch.cumsum(real, dim=1) * real + pad
        else:
            position_ids = torch.arange(width).unsqueeze(0)
        x = w[embed + "word_embeddings.weight"][ids] + w[embed + "position_embeddings.weight"][position_ids]
        if family != "distilbert":
            x = x + w[embed + "token_type_embeddings.weight"][0]
        x = embed_norm(x)
        for block in blocks:
            x = block(x, src_key_padding_mask=mask == 0)
        if mlm:
            t = F.gelu(F.linear(x, w["cls.predictions.transform.dense.weight"], w["cls.predictions.transform.dense.bias"]))
            t = F.layer_norm(t, (hidden,), w["cls.predictions.transform.LayerNorm.weight"], w["cls.predictions.transform.LayerNorm.bias"], eps)
            return t @ w[embed + "word_embeddings.weight"].t() + w["cls.predictions.bias"]
        x = x[:, 0]
        for linear, activation in head_modules:
            x = linear(x)
            if activation is not None:
                x = activation(x)
        return x

    if family == "distilbert":
        config = {"architectures": ["DistilBertForSequenceClassification"], "model_type": "distilbert", "vocab_size": vocab, "dim": hidden,
                  "n_layers": layers, "n_heads": heads, "hidden_dim": inter, "max_position_embeddings": positions, "activation": "gelu",
                  "dropout": 0.1, "attention_dropout": 0.1, "seq_classif_dropout": 0.2, "pad_token_id": pad}
    else:
        config = {"architectures": ["RobertaForSequenceClassification" if family == "roberta" else "BertForSequenceClassification"],
                  "model_type": family, "vocab_size": vocab, "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
                  "intermediate_size": inter, "max_position_embeddings": positions, "type_vocab_size": 1 if family == "roberta" else 2,
                  "layer_norm_eps": eps, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "pad_token_id": pad}
    if mlm:
        config["architectures"] = ["BertForMaskedLM"]
    else:
        config.update({"id2label": {str(i): n for i, n in enumerate(labels)}, "label2id": {n: i for i, n in enumerate(labels)},
                       "problem_type": "single_label_classification"})
    return w, config, forward, pad


def main():
    out = sys.argv[1]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    family = sys.argv[sys.argv.index("--family") + 1] if "--family" in sys.argv else "bert"
    mlm = "--mlm" in sys.argv
    if mlm and family != "bert":
        sys.exit("--mlm is for --family bert")
    w, config, forward, pad = build(family, seed, mlm)
    batches = []
    generator = torch.Generator().manual_seed(seed + 1)
    for rows, width in ((4, 16), (3, 40), (5, 64)):
        lengths = torch.randint(2, width + 1, (rows,), generator=generator)
        lengths[0] = width
        ids = torch.randint(2, 1000, (rows, width), generator=generator)
        mask = (torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)).long()
        ids = ids * mask + pad * (1 - mask)
        with torch.no_grad():
            logits = forward(ids, mask)
        if mlm:
            # Every real token's vocabulary logits (a padded position's own state depends on how padding is masked).
            logits = [[logits[r, t].tolist() for t in range(int(lengths[r]))] for r in range(rows)]
        else:
            logits = logits.tolist()
        batches.append({"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "logits": logits})

    os.makedirs(out, exist_ok=True)
    safetensors_io.write(os.path.join(out, "model.safetensors"), w)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"torch": torch.__version__, "family": family, "batches": batches}, f)
    print(f"{out}: {family}, {len(w)} tensors, {len(batches)} batches, torch {torch.__version__}")


if __name__ == "__main__":
    main()
