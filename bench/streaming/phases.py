#!/usr/bin/env python3
"""Runs a command and reports, per phase, its wall time, CPU time (user+sys of the process, from /proc/PID/stat) and
peak resident memory (VmRSS sampled every 0.2 s; VmHWM at the end). A phase starts at the first stderr line that
contains one of the markers below (the run's progress lines), so the table reads: compress blocks, compress head,
write the checkpoint, export block by block, verify on ONNX Runtime.
  usage: phases.py OUT.json -- command args...   (stderr is passed through and kept in OUT.json's log)"""
import json, os, subprocess, sys, threading, time

MARKERS = [("blocks", "streaming: compress block by block: 0/"), ("head", " head\n"), ("checkpoint", "tensor by tensor"),
           ("export", "exporting model.onnx block by block: 0/"), ("verify", "verifying on ONNX Runtime block by block")]
out, cmd = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
tick = os.sysconf("SC_CLK_TCK")
p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, bufsize=1)
t0 = time.time()
phases = [{"name": "start", "t": 0.0, "cpu": 0.0, "peak": 0}]
log, lock = [], threading.Lock()

def cpu():
    try:
        f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / tick
    except (OSError, IndexError):
        return None

def rss():
    try:
        for line in open(f"/proc/{p.pid}/status"):
            if line.startswith("VmRSS:"): return int(line.split()[1]) * 1024
    except OSError:
        return None

def reader():
    for line in p.stderr:
        sys.stderr.write(line)
        now = time.time() - t0
        with lock:
            log.append(f"{now:8.1f} {line.rstrip()}")
            names = [ph["name"] for ph in phases]
            order = [m[0] for m in MARKERS]
            for name, marker in MARKERS:
                if marker in line and name not in names:
                    # phases only move forward, in MARKERS order
                    if names[-1] == "start" or order.index(name) > order.index(names[-1]):
                        c = cpu()
                        phases.append({"name": name, "t": now, "cpu": c if c is not None else phases[-1]["cpu"], "peak": 0})
                    break

th = threading.Thread(target=reader, daemon=True); th.start()
hwm = 0
last_cpu = 0.0
while p.poll() is None:
    r, c = rss(), cpu()
    if c is not None: last_cpu = c
    if r is not None:
        with lock:
            phases[-1]["peak"] = max(phases[-1]["peak"], r)
    try:
        for line in open(f"/proc/{p.pid}/status"):
            if line.startswith("VmHWM:"): hwm = max(hwm, int(line.split()[1]) * 1024)
    except OSError:
        pass
    time.sleep(0.2)
th.join()
end = time.time() - t0
rows = []
for i, ph in enumerate(phases):
    t1 = phases[i + 1]["t"] if i + 1 < len(phases) else end
    c1 = phases[i + 1]["cpu"] if i + 1 < len(phases) else last_cpu
    rows.append({"phase": ph["name"], "wall_s": round(t1 - ph["t"], 1), "cpu_s": round(c1 - ph["cpu"], 1), "peak_rss_gib": round(ph["peak"] / 2**30, 3)})
load = open("/proc/loadavg").read().split()[:3]
result = {"command": cmd, "rc": p.returncode, "wall_s": round(end, 1), "cpu_s": round(last_cpu, 1), "vmhwm_gib": round(hwm / 2**30, 3),
          "load_at_end": load, "phases": rows, "log": log}
json.dump(result, open(out, "w"), indent=1)
print(f"| phase | wall s | cpu s | peak RSS GiB |\n|---|---:|---:|---:|")
for r in rows: print(f"| {r['phase']} | {r['wall_s']} | {r['cpu_s']} | {r['peak_rss_gib']} |")
print(f"| total | {result['wall_s']} | {result['cpu_s']} | {result['vmhwm_gib']} (VmHWM) |  load {' '.join(load)}")
sys.exit(p.returncode)
