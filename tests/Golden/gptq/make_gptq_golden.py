"""Goldens for the gptq plugin from the authors' own GPTQ code path.

Runs IST-DASLab/gptq's `gptq.py` (class GPTQ: add_batch, fasterquant) with its `quant.py` Quantizer, unmodified,
on CPU, for a few seeded layers, and writes inputs, the accumulated Hessian and the quantized weights to
gptq_golden.safetensors. The reference repository is not part of this project: pass a checkout of it.

    /usr/bin/python3 make_gptq_golden.py /path/to/IST-DASLab/gptq [out.safetensors]

Two shims, neither touching the algorithm: gptq.py imports `transformers` only to test isinstance(layer,
transformers.Conv1D), so a module with an empty Conv1D class stands in; fasterquant calls torch.cuda.synchronize()
for its timing print, a no-op here (CPU build of PyTorch).
"""
import json, os, struct, subprocess, sys, types

import torch
import torch.nn as nn

ref = os.path.abspath(sys.argv[1])
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "gptq_golden.safetensors")
sys.modules["transformers"] = types.SimpleNamespace(Conv1D=type("Conv1D", (), {}))
torch.cuda.synchronize = lambda *a, **k: None
sys.path.insert(0, ref)
import gptq as ref_gptq  # noqa: E402
import quant as ref_quant  # noqa: E402

commit = subprocess.run(["git", "-C", ref, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
torch.manual_seed(2023)
torch.set_num_threads(1)
tensors, meta = {}, {"reference": "IST-DASLab/gptq@" + commit, "torch": torch.__version__, "cases": {}}


def inputs_linear(batches, seqs, tokens, cols, rank=None, dead=()):
    # Correlated features: X = Z·M (M mixes the columns), so H is far from diagonal and error feedback matters.
    mix = torch.randn(cols, cols) / cols ** 0.5 + torch.eye(cols)
    xs = []
    for _ in range(batches):
        z = torch.randn(seqs, tokens, cols if rank is None else rank)
        if rank is not None:
            z = z @ torch.randn(rank, cols)
        x = z @ mix
        for d in dead:
            x[..., d] = 0
        xs.append(x)
    return xs


def run(name, layer, batches, bits, group, sym, actorder, damp=0.01, blocksize=128, keep_inputs=False):
    g = ref_gptq.GPTQ(layer)
    g.quantizer = ref_quant.Quantizer()
    g.quantizer.configure(bits, perchannel=True, sym=sym, mse=False)
    for x in batches:
        g.add_batch(x, None)
    h = g.H.clone()
    w = layer.weight.data.clone()
    g.fasterquant(blocksize=blocksize, percdamp=damp, groupsize=group, actorder=actorder, static_groups=actorder)
    q = layer.weight.data.clone()
    tensors[name + ".w"] = w
    tensors[name + ".h"] = h
    tensors[name + ".q"] = q
    if keep_inputs:  # the inputs only where the test recomputes H from them (file size)
        tensors[name + ".x"] = torch.cat([x.reshape(-1, *x.shape[-3:]) if x.dim() == 4 else x.reshape(-1, x.shape[-1]) for x in batches], 0)
    meta["cases"][name] = {"bits": bits, "groupsize": group, "sym": sym, "actorder": actorder, "static_groups": actorder,
                           "percdamp": damp, "blocksize": blocksize, "samples": g.nsamples,
                           "layer": type(layer).__name__, "weight_shape": list(w.shape)}


def linear(i, o):
    layer = nn.Linear(i, o, bias=False)
    with torch.no_grad():
        layer.weight.normal_(0, 0.05)
    return layer


run("lin_w4_g128_asym", linear(256, 48), inputs_linear(4, 8, 16, 256), 4, 128, False, False, keep_inputs=True)
run("lin_w3_g32_sym_actorder", linear(256, 40), inputs_linear(4, 8, 16, 256), 3, 32, True, True)
run("lin_w4_perchannel_dead", linear(192, 32), inputs_linear(4, 8, 16, 192, dead=(3, 50, 51, 130, 191)), 4, -1, False, False)
run("lin_w2_g64_asym", linear(256, 32), inputs_linear(4, 8, 16, 256), 2, 64, False, False)
run("lin_w8_g32_sym", linear(128, 24), inputs_linear(2, 8, 16, 128), 8, 32, True, False)
conv = nn.Conv2d(6, 12, 3, padding=1, bias=False)
with torch.no_grad():
    conv.weight.normal_(0, 0.1)
run("conv_w4_perchannel_sym", conv, [torch.randn(8, 6, 10, 10) for _ in range(2)], 4, -1, True, False, keep_inputs=True)
# Ill-conditioned: 24 rows of rank 12 for 256 inputs; only the dampening makes H invertible.
run("lin_ill_w4_g32", linear(256, 32), inputs_linear(1, 2, 12, 256, rank=12), 4, 32, False, False)


def save(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": {"about": json.dumps(metadata, sort_keys=True)}}, [], 0
    for key in sorted(tensors):
        t = tensors[key].contiguous().to(torch.float32)
        data = t.numpy().tobytes()
        header[key] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


save(out, tensors, meta)
print("wrote", out, "from", meta["reference"], "torch", meta["torch"])
