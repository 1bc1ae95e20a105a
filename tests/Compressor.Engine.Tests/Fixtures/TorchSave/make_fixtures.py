"""Makes the genuine PyTorch fixtures of RealTorchFilesTests, and checks files written by compress with the ecosystem.

PyTorch is not installable on the development machine, so this ran once on a lent machine that has it
(torch 2.11.0+cu130, safetensors 0.8.0, onnx 1.23.1, onnxruntime 1.30.0):
  python3 make_fixtures.py          # writes the fixtures to /tmp/fx and a tar of them to $OUT
First half: real torch.save archives (every dtype, views sharing one storage, a wrapped checkpoint dict, the
legacy pre-1.6 format), a safetensors file from the safetensors package, and torch.save archives of objects whose
unpickling would run code (a canary file that must never appear); expected.json holds each tensor's dtype, shape
and sha256 of its contiguous bytes. Second half (needs .devcarry/ with files written by compress): reads our
safetensors with safetensors.safe_open, runs onnx.checker.check_model(full_check=True) and an onnxruntime session
on our ONNX exports. Results of that run: all four safetensors read; fp32/8-bit/4-bit (opset 21, IR 10) and
2-bit (opset 25, IR 13) exports pass the full checker and run in onnxruntime 1.30.
"""
import sys, os, io, json, hashlib, collections, pickle, subprocess, tarfile, traceback
OUT = os.environ.get("OUT", "/tmp/out")
def log(*a): print(*a, flush=True)
import torch
log("torch", torch.__version__)
mods = {}
for m in ["onnx", "onnxruntime", "safetensors", "numpy"]:
    try:
        mods[m] = __import__(m); log(m, getattr(mods[m], "__version__", "?"))
    except Exception as e:
        log(m, "MISSING", e)
fx = "/tmp/fx"; os.makedirs(fx, exist_ok=True)
meta = {}
def digest(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16: b = t.view(torch.int16).numpy().tobytes()
    else: b = t.numpy().tobytes()
    return hashlib.sha256(b).hexdigest()
def describe(sd):
    return {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "sha256": digest(v),
                "sum": float(v.double().sum()) if v.numel() else 0.0} for k, v in sd.items() if torch.is_tensor(v)}
torch.manual_seed(0)
base = torch.randn(6, 8)
sd = collections.OrderedDict()
sd["f32"] = torch.randn(3, 4)
sd["f16"] = torch.randn(5).half()
sd["bf16"] = torch.randn(2, 3).bfloat16()
sd["f64"] = torch.randn(4).double()
sd["i8"] = torch.randint(-128, 127, (7,), dtype=torch.int8)
sd["u8"] = torch.randint(0, 255, (2, 2), dtype=torch.uint8)
sd["i16"] = torch.randint(-1000, 1000, (3,), dtype=torch.int16)
sd["i32"] = torch.randint(-10**6, 10**6, (3,), dtype=torch.int32)
sd["i64"] = torch.arange(5, dtype=torch.int64)
sd["bool"] = torch.tensor([True, False, True])
sd["scalar"] = torch.tensor(3.5)
sd["empty"] = torch.zeros(0, 5)
sd["shared_a"] = base
sd["shared_view"] = base[2:4]          # storage offset into the same storage
sd["transposed"] = base.t()            # non-contiguous view of the same storage
sd["strided"] = base[:, ::2]           # step-2 view
torch.save(sd, f"{fx}/dtypes_views.pt"); meta["dtypes_views.pt"] = describe(sd)
net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
torch.save(net.state_dict(), f"{fx}/mlp_state_dict.pt"); meta["mlp_state_dict.pt"] = describe(net.state_dict())
ck = {"epoch": 3, "model": net.state_dict(), "best_acc": 0.91}
torch.save(ck, f"{fx}/checkpoint_dict.pt"); meta["checkpoint_dict.pt"] = describe(net.state_dict())
torch.save(net.state_dict(), f"{fx}/legacy_format.pt", _use_new_zipfile_serialization=False)
meta["legacy_format.pt"] = describe(net.state_dict())
if "safetensors" in mods:
    from safetensors.torch import save_file, load_file
    save_file({k: v.contiguous() for k, v in sd.items() if k not in ("shared_view", "transposed", "strided")} , f"{fx}/genuine.safetensors", metadata={"format": "pt", "origin": "safetensors-python"})
    meta["genuine.safetensors"] = describe({k: v for k, v in sd.items() if k not in ("shared_view", "transposed", "strided")})
# Malicious: real torch.save of objects whose unpickling would run code.
canary = "/tmp/compress_canary"
class OsSystem:
    def __reduce__(self): return (os.system, (f"touch {canary}",))
class Eval:
    def __reduce__(self): return (eval, (f"open('{canary}','w')",))
class Popen:
    def __reduce__(self): return (subprocess.Popen, (["touch", canary],))
class Exec:
    def __reduce__(self): return (exec, (f"open('{canary}','w')",))
for name, obj in [("os_system", OsSystem()), ("builtins_eval", Eval()), ("subprocess_popen", Popen()), ("builtins_exec", Exec())]:
    torch.save({"weight": torch.ones(2), "payload": obj}, f"{fx}/malicious_{name}.pt")
    try:
        torch.load(f"{fx}/malicious_{name}.pt", weights_only=True); log("weights_only accepted", name)
    except Exception as e:
        log("torch weights_only rejects", name, type(e).__name__, str(e).splitlines()[0][:150])
assert not os.path.exists(canary)
json.dump(meta, open(f"{fx}/expected.json", "w"), indent=1, sort_keys=True)
# Our files, read by the ecosystem.
carry = ".devcarry"
for f in ["vit.safetensors", "rtn2.safetensors", "rtn4.safetensors", "rtn8.safetensors"]:
    try:
        if "safetensors" in mods:
            from safetensors import safe_open
            with safe_open(f"{carry}/{f}", framework="pt") as s:
                keys = list(s.keys()); md = s.metadata() or {}
                t = s.get_tensor(keys[0])
            log("safetensors-python reads", f, len(keys), "tensors; metadata keys", sorted(md)[:5], "first", keys[0], tuple(t.shape), t.dtype)
    except Exception as e:
        log("safetensors-python FAILS", f, type(e).__name__, e)
for f in ["fp32.onnx", "rtn8.onnx", "rtn4.onnx", "rtn2.onnx"]:
    if "onnx" in mods:
        try:
            m = mods["onnx"].load(f"{carry}/{f}")
            mods["onnx"].checker.check_model(m, full_check=True)
            log("onnx.checker full_check OK", f, "opset", [(o.domain, o.version) for o in m.opset_import], "ir", m.ir_version)
        except Exception as e:
            log("onnx.checker FAILS", f, type(e).__name__, str(e)[:400])
    if "onnxruntime" in mods:
        try:
            import numpy as np
            s = mods["onnxruntime"].InferenceSession(f"{carry}/{f}", providers=["CPUExecutionProvider"])
            i = s.get_inputs()[0]
            x = np.random.default_rng(0).standard_normal([1 if not isinstance(d, int) else d for d in i.shape]).astype(np.float32)
            y = s.run(None, {i.name: x})[0]
            log("onnxruntime-python", mods["onnxruntime"].__version__, f, "runs", y.shape, float(np.abs(y).sum()))
        except Exception as e:
            log("onnxruntime-python FAILS", f, type(e).__name__, str(e)[:300])
with tarfile.open(f"{OUT}/fixtures.tar", "w") as t:
    t.add(fx, arcname="torch_fixtures")
log("done")
