#!/usr/bin/env python3
"""Summarizes bench/sparsity/run.sh output (report.json of each compress run, sotu-eval.json of each compress eval)
into the markdown tables of plugins/Sparsity/README.md. Usage: summarize.py [OUT]"""
import json, os, sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def metric(report, name, evaluated=None):
    """A metric of the report; evaluated=True: the host's ORT evaluation (has a dataset), False: the plugin's own."""
    for m in (report or {}).get("metrics", []):
        if m.get("name") == name and (evaluated is None or bool(m.get("dataset")) == evaluated):
            return m
    return None


def value(report, name, evaluated=None):
    m = metric(report, name, evaluated)
    return None if m is None else m.get("value")


def eval_metric(doc, name):
    """A metric of `compress eval --format json` (searched anywhere in the document)."""
    found = []

    def walk(x):
        if isinstance(x, dict):
            if x.get("name") == name and "value" in x:
                found.append(x)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(doc)
    return found[0] if found else None


def f(x, fmt="{:.3f}"):
    return "—" if x is None else fmt.format(x)


def seconds(report, key):
    t = (report or {}).get("timings", {})
    return t.get(key)


def gpt_table():
    base = os.path.join(out, "gpt")
    if not os.path.isdir(base):
        return
    dense = load(os.path.join(base, "dense", "report.json"))
    rows = []
    names = ["dense"] + [f"{s}-{fr}{sg}" for fr in ("0.63", "0.32") for s in ("lowrank", "blockshuffle", "blockdense") for sg in ("", "-sgt")]
    print("### GPT (trained here), equal step budget\n")
    print("| structure | target | SGT | replaced FFNs (layers 1–3) | FFN weights (all 4 layers) | model weights | val. perplexity (ORT) | train loss, last 10 % | loss spikes | training s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        r = load(os.path.join(base, name, "report.json"))
        if r is None:
            continue
        params = r["input"]["parameters"]
        dim = 128  # the stage's config; FFN weights of one layer = 2 * d * 4d
        ffn_total = 4 * 2 * dim * 4 * dim
        replaced = value(r, "replacedDenseWeights", False)
        structured = value(r, "structuredWeights", False)
        if replaced is None:
            ffn, model = ffn_total, params
        else:
            ffn = int(ffn_total - replaced + structured)
            model = int(params - replaced + structured)
        parts = name.split("-")
        structure = parts[0]
        target = "—" if structure == "dense" else f"{float(parts[1]):.0%}"
        sgt = "yes" if name.endswith("-sgt") else "no"
        rows.append(name)
        share = value(r, "structuredWeightFraction", False)
        print(f"| {structure} | {target} | {sgt} | {f(share, '{:.1%}')} | {ffn:,} ({ffn / ffn_total:.1%}) | {model:,} | {f(value(r, 'perplexity', True), '{:.3f}')} "
              f"| {f(value(r, 'trainLossLast10pct', False), '{:.4f}')} | {f(value(r, 'trainLossSpikes', False), '{:.0f}')} "
              f"| {f(seconds(r, 'step1:sparsity'), '{:.0f}')} |")
    if dense is not None:
        m = metric(dense, "perplexity", True)
        if m and m.get("reference") is not None:
            print(f"\nInitialised (untrained) model: perplexity {m['reference']:.2f}.")
    print()


def act_table(stage, title, heldout):
    base = os.path.join(out, stage)
    if not os.path.isdir(base):
        return
    print(f"### {title}\n")
    if heldout:
        print("| sparsity | score | mean layer ‖Δy‖²/‖y‖² (calibration) | per-layer sparsity range | embedding cosine vs FP32 (held-out SOTU) | same on Moby val. |")
        print("|---|---|---|---|---|---|")
    else:
        print("| sparsity | score | mean layer ‖Δy‖²/‖y‖² (calibration) | per-layer sparsity range | val. perplexity (ORT; dense in brackets) | KL vs dense (nats) | top-1 agreement |")
        print("|---|---|---|---|---|---|---|")
    for sp in ("0.25", "0.4", "0.5", "0.65"):
        for score in ("wina", "teal"):
            r = load(os.path.join(base, f"{score}-{sp}", "report.json"))
            if r is None:
                continue
            per = [m["value"] for m in r.get("metrics", []) if m["name"].startswith("activationSparsity:")]
            rng = f"{min(per):.0%}–{max(per):.0%}" if per else "—"
            err = value(r, "meanRelativeOutputError", False)
            head = f"| {float(sp):.0%} | {score.upper()} | {f(err, '{:.3%}')} | {rng} "
            if heldout:
                e = load(os.path.join(base, f"{score}-{sp}", "sotu-eval.json"))
                c = eval_metric(e, "cosine")
                print(head + f"| {f(c and c['value'], '{:.4f}')} | {f(value(r, 'cosine', True), '{:.4f}')} |")
            else:
                p = metric(r, "perplexity", True)
                print(head + f"| {f(p and p['value'], '{:.3f}')} ({f(p and p['reference'], '{:.3f}')}) "
                      f"| {f(value(r, 'klDivergence', True), '{:.4f}')} | {f(value(r, 'top1Agreement', True), '{:.2%}')} |")
    print()


def rec_table():
    base = os.path.join(out, "minilm-rec")
    if not os.path.isdir(base):
        return
    print("### MiniLM FFNs from dense, before and after recovery\n")
    print("| run | FFN weights of layers 1–5 | recovery steps | recovery loss first → last 10 % | cosine vs FP32 (held-out SOTU) | top-1 agreement (SOTU) | cosine (Moby val.) | plugin s |")
    print("|---|---|---|---|---|---|---|---|")
    for d in sorted(os.listdir(base)):
        r = load(os.path.join(base, d, "report.json"))
        if r is None:
            continue
        e = load(os.path.join(base, d, "sotu-eval.json"))
        c, t = eval_metric(e, "cosine"), eval_metric(e, "top1Agreement")
        steps = r["steps"][0]["options"].get("recoverySteps", 0)
        a, b = value(r, "recoveryLossFirst10pct", False), value(r, "recoveryLossLast10pct", False)
        loss = "—" if a is None else f"{a:.4f} → {b:.4f}"
        print(f"| {d} | {f(value(r, 'structuredWeightFraction', False), '{:.1%}')} | {steps} | {loss} | {f(c and c['value'], '{:.4f}')} "
              f"| {f(t and t['value'], '{:.3f}')} | {f(value(r, 'cosine', True), '{:.4f}')} | {f(seconds(r, 'step1:sparsity'), '{:.0f}')} |")
    print()


gpt_table()
act_table("gpt-act", "WINA vs TEAL on the dense GPT (trained here)", heldout=False)
act_table("minilm-act", "WINA vs TEAL on all-MiniLM-L6-v2", heldout=True)
rec_table()
