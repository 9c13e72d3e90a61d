"""Profile the four services under the fault phase of bench fault (py-spy record on each, raw collapsed stacks)."""
import os, subprocess, sys, time
from pathlib import Path
from mmsim import bench
from mmsim.client import PAGE_SIZE, Cluster

tag = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
out = Path(".prof")
with bench.private_stack() as settings, Cluster.connect(settings) as mm:
    pids = {name: int((Path(settings.state_dir) / "pids" / f"{name}.pid").read_text()) for name in ("rmap", "pagecache", "filesystem", "allocator")}
    fs = mm.mkfs("prof", block_size=4096)
    files = [fs.create(f"/f{i}") for i in range(n)]
    for f in files:
        f.write(0, b"\xa5" * PAGE_SIZE); f.fsync(); f.fadvise_dontneed()
    p1, p2 = mm.spawn("a"), mm.spawn("b")
    v1 = [p1.mmap(f, PAGE_SIZE) for f in files]; v2 = [p2.mmap(f, PAGE_SIZE) for f in files]
    spies = [subprocess.Popen([".venv/bin/py-spy", "record", "-r", "250", "-f", "raw", "-o", str(out / f"{tag}-{name}.txt"), "--pid", str(pid), "--nonblocking"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name, pid in pids.items()]
    time.sleep(1.5)
    print("load", os.getloadavg())
    t0 = time.perf_counter()
    for v in v1: assert p1.fault(v.start).major
    t1 = time.perf_counter()
    for v in v2: assert not p2.fault(v.start).major
    t2 = time.perf_counter()
    print(f"major {1000*(t1-t0)/n:.2f} ms/fault  minor {1000*(t2-t1)/n:.2f} ms/fault (under the profiler)")
    for s in spies: s.send_signal(2)
    for s in spies: s.wait(timeout=30)
    print("load", os.getloadavg())
