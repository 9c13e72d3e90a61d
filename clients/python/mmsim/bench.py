"""``mmsim bench fault``: fault latency against a bare echo chain of the same hops and round trips.

Major faults hit pages no process has touched (one small file each, so readahead cannot pre-populate
them); minor faults hit the same pages from a second process (in the page cache, not yet mapped).
The baseline is TraceService.Echo relayed through the same number of gRPC hops, each making the same
number of Redis round trips as the corresponding span of a real fault, measured in the same run.
The ratio (fault / baseline) is the figure: how much the logic costs on top of the unavoidable hops.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from contextlib import contextmanager

from mmsim import stack
from mmsim.client import PAGE_SIZE, Cluster, new_traceparent
from mmsim.runtime import config
from mmsim.v1 import trace_pb2, trace_pb2_grpc


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summarize(label: str, samples_ms: list[float]) -> dict:
    total_s = sum(samples_ms) / 1000
    return {"label": label, "n": len(samples_ms), "p50_ms": percentile(samples_ms, 0.5),
            "p99_ms": percentile(samples_ms, 0.99), "mean_ms": statistics.fmean(samples_ms),
            "per_s": len(samples_ms) / total_s if total_s else 0.0}


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def echo_chain(mm: Cluster, tree) -> list[trace_pb2.EchoHop]:
    """The hops of a real fault's trace, as an echo chain: each span's service and Redis round trips."""
    return [trace_pb2.EchoHop(addr=mm.settings.addrs[s.service], redis_round_trips=s.redis_round_trips)
            for s in tree.spans]


def run_echo(mm: Cluster, hops: list[trace_pb2.EchoHop], n: int) -> list[float]:
    first, rest = hops[0], hops[1:]
    stub = trace_pb2_grpc.TraceServiceStub(mm._channels[_service_of(mm, first.addr)])
    req = trace_pb2.EchoRequest(redis_round_trips=first.redis_round_trips, hops=rest, payload=b"x")
    out = []
    for _ in range(n):
        ms, resp = timed(lambda: stub.Echo(req, metadata=[("traceparent", new_traceparent()[1])]))
        assert resp.hops == len(hops)
        out.append(ms)
    return out


def _service_of(mm: Cluster, addr: str) -> str:
    return next(name for name, a in mm.settings.addrs.items() if a == addr)


def bench_fault(mm: Cluster, n: int) -> list[dict]:
    fs = mm.mkfs(f"bench{int(time.time() * 1000) % 100000}", block_size=4096)
    files = [fs.create(f"/f{i}") for i in range(n)]
    for f in files:
        f.write(0, b"\xa5" * PAGE_SIZE)
        f.fsync()
        f.fadvise_dontneed()   # out of the page cache: the first fault must go to the filesystem
    p1, p2 = mm.spawn("bench-major"), mm.spawn("bench-minor")
    vmas1 = [p1.mmap(f, PAGE_SIZE) for f in files]
    vmas2 = [p2.mmap(f, PAGE_SIZE) for f in files]
    major, minor, majors, minors = [], [], [], []
    for v in vmas1:
        ms, r = timed(lambda: p1.fault(v.start))
        assert r.major, f"expected a major fault, got {r.vm_fault}"
        major.append(ms)
        majors.append(r)
    for v in vmas2:
        ms, r = timed(lambda: p2.fault(v.start))
        assert not r.major, f"expected a minor fault, got {r.vm_fault}"
        minor.append(ms)
        minors.append(r)
    rows = []
    for label, samples, results in (("major fault", major, majors), ("minor fault", minor, minors)):
        tree = mm.trace(results[len(results) // 2].trace_id)
        row = summarize(label, samples)
        row.update(hops=tree.hops, redis=tree.redis_round_trips)
        base = summarize(f"echo x{tree.hops} hops", run_echo(mm, echo_chain(mm, tree), n))
        base.update(hops=tree.hops, redis=tree.redis_round_trips)
        row["ratio"] = row["p50_ms"] / base["p50_ms"]
        rows += [row, base]
    return rows


def print_rows(rows: list[dict]) -> None:
    print(f"{'what':<22}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'per s':>9}{'hops':>6}{'redis':>7}{'x base':>8}")
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ""
        print(f"{r['label']:<22}{r['n']:>6}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['per_s']:>9.0f}"
              f"{r['hops']:>6}{r['redis']:>7}{ratio:>8}")


@contextmanager
def private_stack():
    with tempfile.TemporaryDirectory(prefix="mmsim-bench-") as state:
        settings = stack.pick_free_settings(config.load(), state)
        stack.up(settings, timeout=60, tied=True)
        try:
            yield settings
        finally:
            stack.down(settings)


def run(what: str, args) -> int:
    with private_stack() as settings, Cluster.connect(settings) as mm:
        if what == "fault":
            print_rows(bench_fault(mm, args.faults))
    return 0
