"""Golden vectors from the authors' reference code (nbasyl/OFQ @ 7ed37d1, CLAIRE-Labo/StructuredFFN @ 2442a14),
run unmodified on PyTorch 2.11. The reference files are imported from .devcarry/ref (not part of the project)."""
import os, sys, types, json
import torch
sys.path.insert(0, ".devcarry/ref")
try:
    import einops  # noqa
except ImportError:
    sys.modules["einops"] = types.SimpleNamespace(rearrange=None)
import ofq_statsq, ofq_lsq, sffn_block_shuffle, sffn_block_dense, sffn_low_rank
from safetensors.torch import save_file
OUT = os.environ.get("OUT", "/tmp/out")
torch.manual_seed(1234)
g = {}
meta = {"ofq": "nbasyl/OFQ@7ed37d1dd33d39395edbf49fcbbc52f678ecf961", "sffn": "CLAIRE-Labo/StructuredFFN@2442a14c57be177b50bd900f1fba6fcec4c96d93",
        "torch": torch.__version__}
# StatsQ (CPU, float32): forward and the gradient for a fixed upstream gradient.
for bits in (2, 3, 4):
    w = (torch.randn(24, 40) * 0.05).requires_grad_(True)
    q = ofq_statsq.StatsQuantizer(bits, False)
    y = q(w)
    up = torch.randn_like(y)
    (y * up).sum().backward()
    g[f"statsq.b{bits}.w"] = w.detach().clone(); g[f"statsq.b{bits}.out"] = y.detach().clone()
    g[f"statsq.b{bits}.upstream"] = up; g[f"statsq.b{bits}.grad_w"] = w.grad.clone()
# LSQ weight quantizer (the reference hard-codes CUDA): per-channel, signed, learnable.
for bits in (2, 3, 4, 8):
    x = (torch.randn(16, 48) * 0.1)
    xc = x.cuda().requires_grad_(True)
    q = ofq_lsq.LsqQuantizerWeight(bits, all_positive=False, per_channel=True, learnable=True)
    y = q(xc)
    s_init = q.s.detach().cpu().clone()
    up = torch.randn(16, 48)
    (y * up.cuda()).sum().backward()
    g[f"lsq.b{bits}.x"] = x; g[f"lsq.b{bits}.s_init"] = s_init; g[f"lsq.b{bits}.out"] = y.detach().cpu()
    g[f"lsq.b{bits}.upstream"] = up; g[f"lsq.b{bits}.grad_x"] = xc.grad.cpu(); g[f"lsq.b{bits}.grad_s"] = q.s.grad.cpu()
# Structured FFN ops (CPU float64 for a sharp reference; tests compare in float32 with a tolerance).
def bshuffle(name, n_in, n_out, nblocks):
    in_b, out_b = n_in // nblocks, n_out // nblocks
    if n_in < n_out:
        w1 = torch.randn(nblocks, in_b, in_b, dtype=torch.float64); w2 = torch.randn(nblocks, out_b, in_b, dtype=torch.float64)
    else:
        w1 = torch.randn(nblocks, out_b, in_b, dtype=torch.float64); w2 = torch.randn(nblocks, out_b, out_b, dtype=torch.float64)
    x = torch.randn(3, 5, n_in, dtype=torch.float64)
    y = sffn_block_shuffle.block_shuffle_bmm(x, w1, w2)
    guide = torch.mm(torch.block_diag(*torch.unbind(w2, 0)), torch.block_diag(*torch.unbind(w1, 0)))
    g[f"blockshuffle.{name}.x"] = x; g[f"blockshuffle.{name}.blkdiag1"] = w1; g[f"blockshuffle.{name}.blkdiag2"] = w2
    g[f"blockshuffle.{name}.out"] = y; g[f"blockshuffle.{name}.reference_guide_init"] = guide
    meta[f"blockshuffle.{name}"] = {"in": n_in, "out": n_out, "nblocks": nblocks}
bshuffle("up", 16, 48, 4)
bshuffle("down", 48, 16, 4)
bshuffle("square", 32, 32, 8)
def bdense(name, n_in, n_out, nblocks, rank):
    w1 = torch.randn(nblocks, rank // nblocks, n_in // nblocks, dtype=torch.float64)
    lin = torch.randn(n_out, rank, dtype=torch.float64)
    x = torch.randn(3, 5, n_in, dtype=torch.float64)
    g[f"blockdense.{name}.x"] = x; g[f"blockdense.{name}.blkdiag"] = w1; g[f"blockdense.{name}.linear"] = lin
    g[f"blockdense.{name}.out"] = sffn_block_dense.block_dense_bmm(x, w1, lin)
    meta[f"blockdense.{name}"] = {"in": n_in, "out": n_out, "nblocks": nblocks, "rank": rank}
bdense("up", 16, 48, 4, 8)
bdense("down", 48, 16, 4, 12)
x = torch.randn(3, 5, 16, dtype=torch.float64); l1 = torch.randn(6, 16, dtype=torch.float64); l2 = torch.randn(40, 6, dtype=torch.float64)
g["lowrank.x"] = x; g["lowrank.linear1"] = l1; g["lowrank.linear2"] = l2; g["lowrank.out"] = sffn_low_rank.low_rank_custom(x, l1, l2)
save_file({k: v.contiguous() for k, v in g.items()}, f"{OUT}/reference_golden.safetensors", metadata={"about": json.dumps(meta)})
print(len(g), "tensors", json.dumps(meta)[:400])
