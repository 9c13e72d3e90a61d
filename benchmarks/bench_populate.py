"""MiB/s populated through faults, per block size, large folios vs forced order-0; gRPC calls and Redis
round trips per fault and per MiB (read from the traces via TraceService.GetTrace).

Usage: .venv/bin/python benchmarks/bench_populate.py [--mib 8]   (starts its own stack on free ports)

Each case: mkfs (lsfmm2018, fallback policy; max_folio_order 0 forces order-0 folios), write the file,
fsync, drop its page cache, mmap it and touch every page in order (a fault per page not yet mapped).
The span tree of each major fault is read back: hops = spans below the client, round trips = the sum of
the spans' redis_round_trips.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from mmsim import stack
from mmsim.client import Cluster
from mmsim.runtime import config
from mmsim.v1 import filesystem_pb2 as fs_pb, reverse_map_pb2 as rm_pb, trace_pb2

PAGE = 4096


def run_case(mm: Cluster, bs: int, forced0: bool, mib: int) -> dict:
    name = f"b{bs // 1024}k{'o0' if forced0 else 'lg'}{int(time.time() * 1000) % 100000}"
    req = fs_pb.MkfsRequest(name=name, block_size=bs, profile="lsfmm2018")
    if forced0:
        req.max_folio_order = 0
    mm.call("filesystem", "Mkfs", req)
    m = mm.call("filesystem", "Create", fs_pb.CreateRequest(fs=name, path="/data")).mapping
    size = mib << 20
    chunk = bytes(range(256)) * 4096
    for off in range(0, size, len(chunk)):
        mm.call("filesystem", "Write", fs_pb.WriteRequest(mapping=m, offset=off, data=chunk[:min(len(chunk), size - off)]))
    mm.call("filesystem", "Fsync", fs_pb.FsyncRequest(mapping=m))
    from mmsim.v1 import page_cache_pb2  # noqa: PLC0415
    mm.call("pagecache", "InvalidateMapping", page_cache_pb2.InvalidateMappingRequest(mapping=m))
    proc = mm.spawn("bench")
    vma = mm.call("rmap", "Mmap", rm_pb.MmapRequest(pid=proc.pid, mapping=m, length=size, prot=[1], shared=True))
    traces, faults = [], 0
    t0 = time.perf_counter()
    addr = vma.start
    while addr < vma.start + size:
        r = proc.fault(addr)
        assert r.ok, r
        faults += 1
        traces.append(r.trace_id)
        addr += max(r.pages_mapped, 1) * PAGE if r.pages_mapped else PAGE
    elapsed = time.perf_counter() - t0
    time.sleep(1.0)
    hops = trips = majors = 0
    stub = mm._trace_stub()
    orders: dict[int, int] = {}
    for tid in traces:
        spans = stub.GetTrace(trace_pb2.GetTraceRequest(trace_id=tid)).spans
        hops += len([s for s in spans if s.service != "client"])
        trips += sum(s.redis_round_trips for s in spans)
        pops = [s for s in spans if s.name.endswith("/Populate")]
        majors += len(pops)
        for s in pops:
            o = int(s.attributes.get("out.folio.order", 0))
            orders[o] = orders.get(o, 0) + 1
    return {"block": bs, "folios": "order-0" if forced0 else "large", "faults": faults, "majors": majors,
            "MiB/s": mib / elapsed, "ms/fault": elapsed * 1000 / faults, "hops/fault": hops / faults,
            "rt/fault": trips / faults, "hops/MiB": hops / mib, "rt/MiB": trips / mib, "orders": orders}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as state:
        settings = stack.pick_free_settings(config.load({"MMSIM_MEMORY": "512MiB", "MMSIM_LOG_LEVEL": "warning"}), state)
        stack.up(settings, timeout=60)
        try:
            with Cluster.connect(settings) as mm:
                rows = [run_case(mm, bs, forced0, args.mib) for bs in (4096, 16384, 65536) for forced0 in (False, True)]
        finally:
            stack.down(settings)
    print(f"{'block':>6} {'folios':>8} {'faults':>6} {'MiB/s':>7} {'ms/flt':>7} {'hops/flt':>8} {'rt/flt':>7} "
          f"{'hops/MiB':>9} {'rt/MiB':>8}  populate orders")
    for r in rows:
        print(f"{r['block'] // 1024:>5}K {r['folios']:>8} {r['faults']:>6} {r['MiB/s']:>7.2f} {r['ms/fault']:>7.2f} "
              f"{r['hops/fault']:>8.2f} {r['rt/fault']:>7.2f} {r['hops/MiB']:>9.1f} {r['rt/MiB']:>8.1f}  {r['orders']}")


if __name__ == "__main__":
    main()
