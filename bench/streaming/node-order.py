#!/usr/bin/env python3
"""Reads an ONNX Runtime profile (bench/OrtSessionMemory MODEL basic-noarena-profile) and prints where the first run
executed its DequantizeLinear nodes among all nodes: a decoded weight stays resident from its DequantizeLinear to its
MatMul, so DequantizeLinear nodes that run first hold every decoded weight at once.
  usage: node-order.py PROFILE.json"""
import json, sys
events = [e for e in json.load(open(sys.argv[1])) if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
seen, order = set(), []
for e in events:
    name = e["name"][: -len("_kernel_time")]
    if name in seen: break   # the second run starts
    seen.add(name); order.append((name, e["args"].get("op_name")))
dq = [i for i, (_, op) in enumerate(order) if op == "DequantizeLinear"]
mm = [i for i, (_, op) in enumerate(order) if op == "MatMul"]
print(f"{len(order)} nodes; {len(dq)} DequantizeLinear, of which {sum(1 for i in dq if i < (mm[0] if mm else len(order)))} before the first MatMul (position {mm[0] if mm else '-'})")
print("DequantizeLinear positions:", dq)
