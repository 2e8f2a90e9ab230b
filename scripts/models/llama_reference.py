#!/usr/bin/env python3
"""A reference for StreamLoader's Llama: writes a random-weight LlamaForCausalLM folder under Hugging Face's names
(config.json, model.safetensors) and the logits a forward pass written here from torch operations computes on random
padded batches (reference.json). Nothing of transformers is used; the forward follows the published Llama design:
RMSNorm (float32), rotary embeddings with rope_theta and Llama 3's rope_scaling, grouped-query attention (each
key/value head serving consecutive query heads), causal softmax in float32, SwiGLU.

usage: llama_reference.py OUT_DIR [--tied] [--no-scaling] [--seed 1] [--vocab 256] [--no-reference] [--tokenizer tokenizer.json] [--weights model.safetensors]
(Debian's python3-torch). --no-reference writes the folder alone, --tokenizer copies a tokenizer.json beside it (a test
model for training with Llama 3's tokenizer: --vocab 128256).
"""
import json
import math
import os
import shutil
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402  (beside this script)



def inverse_frequencies(head_dim, theta, scaling):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    if scaling is None:
        return inv
    factor, low, high, old = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"], scaling["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv
    scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


def main():
    out = sys.argv[1]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    tied = "--tied" in sys.argv
    torch.manual_seed(seed)
    vocab = int(sys.argv[sys.argv.index("--vocab") + 1]) if "--vocab" in sys.argv else 256
    reference = "--no-reference" not in sys.argv
    hidden, inter, layers, heads, kv_heads, positions, eps, theta = 64, 160, 2, 4, 2, 8192, 1e-5, 500000.0
    head_dim = hidden // heads
    # Llama 3.2's scaling, with a small original context so that all three frequency bands occur at head_dim 16.
    scaling = None if "--no-scaling" in sys.argv else {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
    w = {}

    def param(name, *shape, scale=0.1, base=0.0):
        w[name] = base + torch.randn(*shape) * scale

    param("model.embed_tokens.weight", vocab, hidden, scale=0.5)
    for i in range(layers):
        p = f"model.layers.{i}."
        param(p + "input_layernorm.weight", hidden, base=1.0)
        param(p + "post_attention_layernorm.weight", hidden, base=1.0)
        param(p + "self_attn.q_proj.weight", heads * head_dim, hidden)
        param(p + "self_attn.k_proj.weight", kv_heads * head_dim, hidden)
        param(p + "self_attn.v_proj.weight", kv_heads * head_dim, hidden)
        param(p + "self_attn.o_proj.weight", hidden, heads * head_dim)
        param(p + "mlp.gate_proj.weight", inter, hidden)
        param(p + "mlp.up_proj.weight", inter, hidden)
        param(p + "mlp.down_proj.weight", hidden, inter)
    param("model.norm.weight", hidden, base=1.0)
    if not tied:
        param("lm_head.weight", vocab, hidden)
    safetensors_io.override(sys.argv, w)

    def rms(x, weight):
        x32 = x.float()
        return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)

    def linear(x, name):
        return F.linear(x, w[name])

    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat([-x[..., half:], x[..., :half]], dim=-1)

    inv = inverse_frequencies(head_dim, theta, scaling)

    def forward(ids, mask, position_ids):
        batch, width = ids.shape
        angles = position_ids.float().unsqueeze(-1) * inv
        emb = torch.cat([angles, angles], dim=-1)
        cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)
        x = w["model.embed_tokens.weight"][ids]
        allowed = torch.tril(torch.ones(width, width, dtype=torch.bool)).unsqueeze(0) & (mask.unsqueeze(1) == mask.unsqueeze(2))
        for i in range(layers):
            p = f"model.layers.{i}."
            h = rms(x, w[p + "input_layernorm.weight"])
            q = linear(h, p + "self_attn.q_proj.weight").view(batch, width, heads, head_dim).transpose(1, 2)
            k = linear(h, p + "self_attn.k_proj.weight").view(batch, width, kv_heads, head_dim).transpose(1, 2)
            v = linear(h, p + "self_attn.v_proj.weight").view(batch, width, kv_heads, head_dim).transpose(1, 2)
            q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
            rep = heads // kv_heads
            k = k[:, :, None].expand(batch, kv_heads, rep, width, head_dim).reshape(batch, heads, width, head_dim)
            v = v[:, :, None].expand(batch, kv_heads, rep, width, head_dim).reshape(batch, heads, width, head_dim)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(head_dim)
            scores = scores.masked_fill(~allowed.unsqueeze(1), torch.finfo(scores.dtype).min)
            attn = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype) @ v
            x = x + linear(attn.transpose(1, 2).reshape(batch, width, heads * head_dim), p + "self_attn.o_proj.weight")
            h = rms(x, w[p + "post_attention_layernorm.weight"])
            x = x + linear(F.silu(linear(h, p + "mlp.gate_proj.weight")) * linear(h, p + "mlp.up_proj.weight"), p + "mlp.down_proj.weight")
        x = rms(x, w["model.norm.weight"])
        return x @ (w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]).t()

    batches = []
    generator = torch.Generator().manual_seed(seed + 1)
    for rows, width, offset in ((3, 16, 0), (4, 48, 0), (2, 96, 1000)) if reference else ():
        lengths = torch.randint(2, width + 1, (rows,), generator=generator)
        lengths[0] = width
        mask = (torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)).long()
        ids = torch.randint(0, vocab, (rows, width), generator=generator) * mask
        # Positions far along too (the long-wavelength bands), as a packed row's later documents are not.
        position_ids = (torch.arange(width) + offset).unsqueeze(0).expand(rows, width).contiguous()
        with torch.no_grad():
            logits = forward(ids, mask, position_ids)
        real = [[logits[r, t].tolist() for t in range(int(lengths[r]))] for r in range(rows)]
        batches.append({"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "position_ids": position_ids.tolist(), "logits": real})

    os.makedirs(out, exist_ok=True)
    safetensors_io.write(os.path.join(out, "model.safetensors"), w)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": inter,
              "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads, "max_position_embeddings": positions,
              "rms_norm_eps": eps, "rope_theta": theta, "rope_scaling": scaling, "tie_word_embeddings": tied, "hidden_act": "silu",
              "attention_bias": False, "mlp_bias": False, "bos_token_id": 1, "eos_token_id": 2}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if reference:
        with open(os.path.join(out, "reference.json"), "w") as f:
            json.dump({"torch": torch.__version__, "batches": batches}, f)
    if "--tokenizer" in sys.argv:
        shutil.copyfile(sys.argv[sys.argv.index("--tokenizer") + 1], os.path.join(out, "tokenizer.json"))
    print(f"{out}: llama, {len(w)} tensors, tied {tied}, rope_scaling {scaling is not None}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
