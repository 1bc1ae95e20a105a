"""Oscillation-tracker golden vectors from OFQ's TrackOscillation (nbasyl/OFQ@7ed37d1 statsq.py), run unmodified."""
import os, sys, types, json
import torch
sys.path.insert(0, ".devcarry/ref")
import ofq_statsq
from safetensors.torch import save_file
OUT = os.environ.get("OUT", "/tmp/out")
torch.manual_seed(7)
T, N = 300, 64
steps = torch.randint(-1, 2, (T, N)) * (torch.rand(T, N) < 0.3)   # sparse ±1 moves
codes = torch.cumsum(steps, 0).clamp(-2, 1).to(torch.float32)
tr = ofq_statsq.TrackOscillation(momentum=0.01)
sums = []
for t in range(T):
    tr(codes[t])
    sums.append(float(tr.oscillated_sum))
save_file({"osc.codes": codes.contiguous(), "osc.ema_frequency": tr.ema_oscillation.contiguous(),
           "osc.total": tr.total_oscillation.to(torch.float32).contiguous(), "osc.step_sums": torch.tensor(sums)},
          f"{OUT}/oscillation_golden.safetensors", metadata={"about": "OFQ TrackOscillation momentum 0.01 over codes[t] for t in 0..T-1"})
print("osc total", float(tr.total_oscillation.sum()), "max ema", float(tr.ema_oscillation.max()))
