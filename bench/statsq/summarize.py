#!/usr/bin/env python3
"""Summarizes bench/statsq/run.sh output: one row per (bits, variant), mean ± std over seeds. Step times are in each
report.json (fpStepSeconds, qatStudentStepSeconds, stepTimeRatio); they are not averaged here because a run under
changing load is not comparable with another."""
import json, os, statistics, sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "out")
runs = os.path.join(out, "runs")
order = {"lsq": 0, "statsq": 1, "qkr": 2, "cga": 3}
names = {"lsq": "LSQ", "statsq": "StatsQ", "qkr": "StatsQ+QKR", "cga": "StatsQ+QKR+CGA"}

def metric(report, name, dataset=None):
    for m in report.get("metrics", []):
        if m.get("name") == name and (dataset is None or m.get("dataset") is not None):
            return m.get("value")
    return None

def ort_accuracy(report):
    # The host's evaluation stage: metrics with a dataset, measured on ONNX Runtime.
    for m in report.get("metrics", []):
        if m.get("dataset") and "accuracy" in m.get("name", "").lower() and m.get("name") not in ("fpAccuracy", "qatAccuracy", "shippedAccuracy"):
            return m.get("value")
    return None

groups = {}
for d in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
    path = os.path.join(runs, d, "report.json")
    if not os.path.exists(path):
        continue
    bits_variant, seed = d.rsplit("-seed", 1)
    wa, variant = bits_variant.split("-", 1)
    with open(path) as f:
        r = json.load(f)
    row = {
        "acc": metric(r, "shippedAccuracy"),
        "qat": metric(r, "qatAccuracy"),
        "fp": metric(r, "fpAccuracy"),
        "ort": ort_accuracy(r),
        "m1a": metric(r, "qat.oscillation.emaAbove0.005"),
        "m1b": metric(r, "qat.oscillation.emaAbove0.01"),
        "m2": metric(r, "qat.oscillation.reversedInWindow"),
        "cga_m2": metric(r, "cga.oscillation.reversedInWindow"),
        "cga_managed_m2": metric(r, "cga.managed.oscillation.reversedInWindow"),
        "unfrozen": metric(r, "cgaUnfrozenAtEnd"),
        "qkr_error": metric(r, "qkr.initialLogitRelativeError"),
        "ratio": metric(r, "stepTimeRatio"),
        "onnx": (r.get("output", {}).get("onnx") or {}).get("bytesOnDisk"),
    }
    groups.setdefault((wa, variant), []).append(row)

def fmt(values, scale=1.0, digits=2):
    v = [x * scale for x in values if x is not None]
    if not v:
        return "—"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{statistics.mean(v):.{digits}f} ± {statistics.stdev(v):.{digits}f}"

fp = [row["fp"] for rows in groups.values() for row in rows if row["fp"] is not None]
print(f"FP32 held-out accuracy (TorchSharp): {fmt(fp[:1], 100)} %")
print("| W/A | variant | seeds | accuracy % (TorchSharp) | ORT accuracy % | EMA>0.005 % | EMA>0.01 % | reversed in window % (QAT → CGA) | CGA-managed reversed in window % (end) | CGA unfrozen at end | ONNX bytes |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (wa, variant), rows in sorted(groups.items(), key=lambda kv: (-int(kv[0][0][1]), order.get(kv[0][1], 9))):
    m2 = fmt([r["m2"] for r in rows], 100)
    if any(r["cga_m2"] is not None for r in rows):
        m2 += " → " + fmt([r["cga_m2"] for r in rows], 100)
    print(f"| {wa.upper()} | {names.get(variant, variant)} | {len(rows)} | {fmt([r['acc'] for r in rows], 100)} | {fmt([r['ort'] for r in rows], 100)} | "
          f"{fmt([r['m1a'] for r in rows], 100)} | {fmt([r['m1b'] for r in rows], 100)} | {m2} | {fmt([r['cga_managed_m2'] for r in rows], 100, 4)} | {fmt([r['unfrozen'] for r in rows], 1, 0)} | "
          f"{fmt([r['onnx'] for r in rows], 1, 0)} |")

qkr = [row["qkr_error"] for rows in groups.values() for row in rows if row["qkr_error"] is not None]
if qkr:
    print(f"\nQKR rewrite before training (quantizers off, q/k biases dropped as in the reference): logit relative L2 error "
          f"{fmt(qkr, 100, 3)} % over {len(qkr)} runs")
