#!/usr/bin/env python3
"""Writes expected.json from the ONNX models the old tool exported: per model, the sha256 of the ModelProto with its
producer_version (field 3) removed, and the graph's node and initializer counts. Standard library only: a minimal
protobuf walk of the top-level message and of the graph."""
import hashlib, json, sys, pathlib

def varint(b, i):
    shift = value = 0
    while True:
        c = b[i]; i += 1
        value |= (c & 0x7F) << shift; shift += 7
        if c < 0x80: return value, i

def fields(b):
    """(field number, wire type, start of the field's bytes, end) of each top-level field of message b."""
    i = 0
    while i < len(b):
        start = i
        key, i = varint(b, i)
        number, wire = key >> 3, key & 7
        if wire == 0: _, i = varint(b, i)
        elif wire == 1: i += 8
        elif wire == 5: i += 4
        elif wire == 2:
            n, i = varint(b, i); payload = i; i += n
            yield number, wire, start, payload, i
            continue
        else: raise ValueError(f"wire type {wire}")
        yield number, wire, start, None, i

def expected(path):
    b = pathlib.Path(path).read_bytes()
    kept = b"".join(b[s:e] for n, w, s, p, e in fields(b) if n != 3)   # 3: producer_version
    graph = next(b[p:e] for n, w, s, p, e in fields(b) if n == 7)     # 7: graph
    nodes = sum(1 for n, *_ in fields(graph) if n == 1)                 # GraphProto.node
    inits = sum(1 for n, *_ in fields(graph) if n == 5)                 # GraphProto.initializer
    return {"onnxSha256": hashlib.sha256(kept).hexdigest(), "nodes": nodes, "initializers": inits}

if __name__ == "__main__":
    out = {pathlib.Path(p).stem: expected(p) for p in sys.argv[1:]}
    print(json.dumps(dict(sorted(out.items())), indent=2))
