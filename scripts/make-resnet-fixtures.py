#!/usr/bin/python3
"""Writes test/fixtures/resnet/*.json from torchvision: the reference that native/core/resnet
must match (state_dict key names, shapes and order; parameter counts; one deterministic-fill
forward value). No weights are stored: the value check fills every tensor from a formula of its
key name, which test/native/core/resnet_test.cc reproduces exactly.

Run with Debian's python3 (python3-torch 1.13, python3-torchvision 0.14):
    /usr/bin/python3 scripts/make-resnet-fixtures.py
"""
import json
import math
import os

import torch
import torchvision

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "resnet")


def key_seed(name):
    # Order-independent seed from the key, so both sides need not enumerate tensors identically.
    return sum((i + 1) * ord(c) for i, c in enumerate(name)) % 1009


def fill_value(name, shape):
    """Deterministic tensor for `name` (float64 math, then float32). Mirrored in resnet_test.cc."""
    n = 1
    for s in shape:
        n *= s
    j = torch.arange(n, dtype=torch.float64)
    base = torch.sin(0.731 * j + 0.0137 * key_seed(name) + 0.5)
    if name.endswith("running_var"):
        v = 0.75 + 0.25 * base
    elif name.endswith("running_mean"):
        v = 0.1 * base
    elif len(shape) == 4:  # conv weight: keep activations O(1) through the depth
        fan_in = shape[1] * shape[2] * shape[3]
        v = base * math.sqrt(2.0 / fan_in)
    elif name.endswith("weight"):  # BN gamma
        v = 0.8 + 0.2 * base
    else:  # BN beta
        v = 0.1 * base
    return v.to(torch.float32).reshape(shape)


def fill_model(model):
    sd = model.state_dict()
    with torch.no_grad():
        for k, t in sd.items():
            if k.endswith("num_batches_tracked"):
                continue
            t.copy_(fill_value(k, list(t.shape)))


def keys_of(model):
    params = [[k, list(p.shape)] for k, p in model.named_parameters() if not k.startswith("fc.")]
    buffers = [[k, list(b.shape)] for k, b in model.named_buffers()]
    return params, buffers


def count(model):
    return sum(p.numel() for k, p in model.named_parameters() if not k.startswith("fc."))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    for depth in (18, 34, 50):
        model = getattr(torchvision.models, "resnet%d" % depth)()
        params, buffers = keys_of(model)
        doc = {"depth": depth, "width": 1.0, "stem": "imagenet", "inChannels": 3,
               "paramCount": count(model), "featureDim": model.fc.in_features,
               "params": params, "buffers": buffers}
        if depth == 18:
            # Deterministic-fill forward check: imagenet stem, eval mode, one 1x3x32x32 input.
            fill_model(model)
            model.fc = torch.nn.Identity()
            model.eval()
            x = torch.sin(0.37 * torch.arange(3 * 32 * 32, dtype=torch.float64)).to(torch.float32)
            with torch.no_grad():
                feat = model(x.reshape(1, 3, 32, 32))[0]
            doc["valueCheck"] = {
                "input": "sin(0.37*i) for i in 0..3071, float64 math then float32, shape [1,3,32,32]",
                "features": [round(float(v), 7) for v in feat],
            }
        path = os.path.join(OUT, "resnet%d.json" % depth)
        with open(path, "w") as f:
            # One entry per line: small diffs, still plain JSON.
            f.write(json.dumps(doc, separators=(",", ":")).replace("],[", "],\n["))
            f.write("\n")
        print("wrote", os.path.relpath(path), "params", doc["paramCount"], "keys", len(params) + len(buffers))


if __name__ == "__main__":
    main()
