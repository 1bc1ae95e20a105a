#!/usr/bin/env python3
"""Lists the field paths of a JSON file, in the order they first appear: 'output.onnx.file', 'steps[].plugin', ...
Arrays' elements are merged ('layers[].name'); the values of open-ended maps and plugin-defined objects (options,
config, fusedKernelCounts, timings, series, and metrics/reference when they are {name: value} maps) are not listed.
ReportSchemaTests lists the files the tool writes today the same way and compares with the *.fields files here, which
this script made from the output of the tool at commit c7f510b (before the SDK 2.0 redesign):

  python3 fields.py DEMO_OUT/steps/rtn-w4/report.json > run-report.fields   # compress demo --out DEMO_OUT, rtn step (run with --data)
  python3 fields.py DEMO_OUT/steps/rtn-w4/recipe.json > recipe.fields
  python3 fields.py DEMO_OUT/base/train.json > train.fields
  python3 fields.py DEMO_OUT/report.json > demo-report.fields
  python3 fields.py OUT.json > cli-COMMAND.fields   # OUT.json: stdout of the old tool's `--format json` of run
                                                    # (rtn --data digits), export, eval (--reference), inspect,
                                                    # plugin list, plugin describe rtn, train
"""
import json, sys

OPAQUE = {"options", "config", "fusedKernelCounts", "timings", "series", "metadata", "recipeSchema"}
MAPS = {"metrics", "reference"}

def fields(value, path, out):
    if isinstance(value, dict):
        for key, v in value.items():
            p = f"{path}.{key}" if path else key
            if p not in out: out.append(p)
            if key in OPAQUE or (key in MAPS and isinstance(v, dict)): continue
            fields(v, p, out)
    elif isinstance(value, list):
        for v in value: fields(v, path + "[]", out)

out = []
fields(json.load(open(sys.argv[1])), "", out)
print("\n".join(out))
