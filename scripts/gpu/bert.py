"""BERT in plain PyTorch modules (no transformers): the encoder of BERT-base by default, with a masked-LM head (tied
decoder, as BertForMaskedLM) or a sequence-classification head (pooler + linear, as BertForSequenceClassification).

Used by the GPU measurements in this folder, which need the same model on a machine with and without `transformers`:
weights are random, since they measure speed, not quality. Attention is torch's scaled_dot_product_attention with the
padding mask; GELU is the exact (erf) form; layer norms are post-residual with eps 1e-12, as BERT's.
"""
import torch
import torch.nn.functional as F
from torch import nn


def attention(q, k, v, keys):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=keys)
    # torch before 2.0 (Debian 12's 1.13, for a smoke run on a CPU): the same arithmetic, unfused
    scores = (q @ k.transpose(-1, -2)) / (q.shape[-1] ** 0.5)
    return scores.masked_fill(~keys, float("-inf")).softmax(-1) @ v


class Layer(nn.Module):
    def __init__(self, hidden, heads, intermediate):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
        self.ff1 = nn.Linear(hidden, intermediate)
        self.ff2 = nn.Linear(intermediate, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, keys):
        b, t, h = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        a = attention(q, k, v, keys)
        x = self.ln1(x + self.out(a.transpose(1, 2).reshape(b, t, h)))
        return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))


class Bert(nn.Module):
    """labels=None: masked LM (forward returns the loss over labels != -100); labels=n: n-way classifier logits."""

    def __init__(self, vocab_size=30522, hidden=768, layers=12, heads=12, intermediate=3072, max_positions=512, labels=None):
        super().__init__()
        self.word = nn.Embedding(vocab_size, hidden)
        self.position = nn.Embedding(max_positions, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList(Layer(hidden, heads, intermediate) for _ in range(layers))
        self.labels = labels
        if labels is None:
            self.head = nn.Linear(hidden, hidden)
            self.head_ln = nn.LayerNorm(hidden, eps=1e-12)
            self.decoder_bias = nn.Parameter(torch.zeros(vocab_size))
        else:
            self.pooler = nn.Linear(hidden, hidden)
            self.classifier = nn.Linear(hidden, labels)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
                if isinstance(module, nn.Linear):
                    nn.init.zeros_(module.bias)

    def encode(self, input_ids, attention_mask):
        t = input_ids.shape[1]
        x = self.word(input_ids) + self.position.weight[:t] + self.token_type.weight[0]
        x = self.ln(x)
        keys = attention_mask[:, None, None, :].bool()  # padding keys are never attended to
        for layer in self.layers:
            x = layer(x, keys)
        return x

    def forward(self, input_ids, attention_mask, labels=None):
        x = self.encode(input_ids, attention_mask)
        if self.labels is not None:
            return self.classifier(torch.tanh(self.pooler(x[:, 0])))
        logits = F.linear(self.head_ln(F.gelu(self.head(x))), self.word.weight, self.decoder_bias)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)


def base(**kwargs):
    return Bert(**kwargs)


def tiny(**kwargs):
    """A few-layer model for a smoke run of the scripts on a CPU."""
    return Bert(hidden=64, layers=2, heads=2, intermediate=128, **kwargs)
