"""Prints the markdown table of bench/llm-quality/run.sh's runs (bench/README.md "LLM quality")."""
import json, os, sys

out = sys.argv[1]
base = json.load(open(os.path.join(out, "base.json")))["train"]
print(f"base: {base['parameters']:,} parameters, trained {sum(h['Seconds'] for h in base['history']):.0f} s, "
      f"held-out perplexity {base['history'][-1]['EvalPerplexity']:.4f} (TorchSharp, after training)")
print("| run | bits/weight (compressed layers) | ONNX bytes | perplexity (ORT) | FP32 perplexity (ORT, same run) | Δ | top-1 agreement | KL (nats) | run s |")
print("|---|---|---|---|---|---|---|---|---|")
for name in sorted(os.listdir(out), key=lambda n: os.path.getmtime(os.path.join(out, n))):
    path = os.path.join(out, name, "report.json")
    if not os.path.isfile(path):
        continue
    r = json.load(open(path))
    m = {x["name"]: x for x in r.get("metrics", [])}
    ppl = m.get("perplexity")
    bits = r["output"].get("onnx", {}).get("bitsPerWeight") if isinstance(r.get("output"), dict) else None
    size = r["output"].get("onnx", {}).get("bytesOnDisk") if isinstance(r.get("output"), dict) else None
    secs = open(os.path.join(out, name, "seconds.txt")).read().strip() if os.path.isfile(os.path.join(out, name, "seconds.txt")) else "?"
    def f(k, d=4):
        return f"{m[k]['value']:.{d}f}" if k in m else "–"
    if ppl:
        delta = f"{ppl['value'] - ppl['reference']:+.4f}"
        print(f"| {name} | {bits if bits is not None else '–'} | {size:,} | {ppl['value']:.4f} | {ppl['reference']:.4f} | {delta} | {f('top1Agreement')} | {f('klDivergence')} | {secs} |")
    else:
        print(f"| {name} | {bits} | {size} | – | – | – | – | – | {secs} |")
