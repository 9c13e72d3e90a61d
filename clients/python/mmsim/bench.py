"""``mmsim bench``: the fault path and the data structures against floors measured in the same run.

``bench fault``: major faults hit pages no process has touched (one small file each, so readahead cannot
pre-populate them); minor faults hit the same pages from a second process (in the page cache, not yet
mapped). The baseline is TraceService.Echo relayed through the same number of hops, each making the same
number of Redis round trips as the corresponding span of a real fault, measured in the same run. The ratio
(fault / baseline) is the figure: how much the logic costs on top of the unavoidable hops. The echo's round
trips are PINGs; a second baseline makes them durable writes (``writes``), which pay the AOF's fsync as a
fault's writing scripts do (appendfsync always: mmsim.runtime.redis_server), so its ratio leaves out what
durability costs. Beside each fault: the Redis time its scripts took (INFO commandstats: EVALSHA and EVAL
microseconds, server side), the part of the logic that runs in Lua.

``bench run`` (``make bench``): every figure of issue 16, each beside its floor, medians of ``repeats``
runs with their spread (min..max), over gRPC and in-process (MMSIM_TRANSPORT=inproc), with the load
average beside them; ``bench compare A.json B.json`` flags what got worse beyond that spread.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from mmsim import errors, stack
from mmsim.client import PAGE_SIZE, Cluster, new_traceparent
from mmsim.runtime import config, lua
from mmsim.runtime.redis_server import start_redis
from mmsim.v1 import trace_pb2, trace_pb2_grpc

SCHEMA = "mmsim-bench/1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summarize(label: str, samples_ms: list[float], elapsed_s: float | None = None) -> dict:
    """p50/p99/mean of per-operation latencies; per_s from the wall time (``elapsed_s``: several clients)."""
    total_s = elapsed_s if elapsed_s is not None else sum(samples_ms) / 1000
    return {"label": label, "n": len(samples_ms), "p50_ms": percentile(samples_ms, 0.5),
            "p99_ms": percentile(samples_ms, 0.99), "mean_ms": statistics.fmean(samples_ms),
            "per_s": len(samples_ms) / total_s if total_s else 0.0}


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def echo_chain(mm: Cluster, tree, writes: bool = False) -> list[trace_pb2.EchoHop]:
    """The hops of a real fault's trace, as an echo chain: each span's service and Redis round trips
    (``writes``: durable writes instead of PINGs)."""
    return [trace_pb2.EchoHop(addr=mm.settings.addrs[s.service], redis_round_trips=s.redis_round_trips, writes=writes)
            for s in tree.spans]


def run_echo(mm: Cluster, hops: list[trace_pb2.EchoHop], n: int) -> list[float]:
    first, rest = hops[0], hops[1:]
    stub = trace_pb2_grpc.TraceServiceStub(mm._channels[_service_of(mm, first.addr)])
    req = trace_pb2.EchoRequest(redis_round_trips=first.redis_round_trips, hops=rest, payload=b"x",
                                writes=first.writes)
    out = []
    for _ in range(n):
        ms, resp = timed(lambda: stub.Echo(req, metadata=[("traceparent", new_traceparent()[1])]))
        assert resp.hops == len(hops)
        out.append(ms)
    return out


def _service_of(mm: Cluster, addr: str) -> str:
    return next(name for name, a in mm.settings.addrs.items() if a == addr)


@dataclass
class FaultSet:
    """n pages, one small file each, dropped from the page cache and mapped by two processes."""
    major_proc: object
    major_vmas: list
    minor_proc: object
    minor_vmas: list


def prepare_faults(mm: Cluster, n: int) -> FaultSet:
    fs = mm.mkfs(f"bench{time.time_ns() % 10**8}", block_size=4096)
    files = [fs.create(f"/f{i}") for i in range(n)]
    for f in files:
        f.write(0, b"\xa5" * PAGE_SIZE)
        f.fsync()
        f.fadvise_dontneed()   # out of the page cache: the first fault must go to the filesystem
    p1, p2 = mm.spawn("bench-major"), mm.spawn("bench-minor")
    return FaultSet(p1, [p1.mmap(f, PAGE_SIZE) for f in files], p2, [p2.mmap(f, PAGE_SIZE) for f in files])


def script_usec(url: str | None) -> int | None:
    """Microseconds Redis has spent running scripts (EVALSHA and EVAL, INFO commandstats) since its start;
    None when there is no URL (a stack reached by --target: its Redis is not this client's to ask) or that
    Redis does not answer."""
    if url is None:
        return None
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        stats = client.info("commandstats")
    except redis.RedisError:
        return None
    finally:
        client.close()
    return sum(stats.get(f"cmdstat_{c}", {}).get("usec", 0) for c in ("evalsha", "eval"))


def per_fault(before: int | None, after: int | None, n: int) -> float | None:
    """Script microseconds per fault between two readings of script_usec (None if either is missing)."""
    return None if before is None or after is None else (after - before) / n


def time_faults(proc, vmas, major: bool, clients: int = 1) -> tuple[list[float], float, list]:
    """(latencies in ms, wall time in s, results) of one fault per vma, from ``clients`` threads at once."""
    def one(v):
        ms, r = timed(lambda: proc.fault(v.start))
        assert r.major == major, f"expected a {'major' if major else 'minor'} fault, got {r.vm_fault}"
        return ms, r

    t0 = time.perf_counter()
    if clients == 1:
        out = [one(v) for v in vmas]
    else:
        with ThreadPoolExecutor(clients) as pool:
            out = list(pool.map(one, vmas))
    return [ms for ms, _ in out], time.perf_counter() - t0, [r for _, r in out]


def bench_fault(mm: Cluster, n: int, redis_url: str | None = None) -> list[dict]:
    """`mmsim bench fault`: major and minor p50/p99 against the echo chain of their hops and round trips
    (with PINGs, and with durable writes), and the Redis time of their scripts (from ``redis_url``, the
    stack's Redis; None: not measured)."""
    fs = prepare_faults(mm, n)
    rows = []
    for label, proc, vmas, major in (("major fault", fs.major_proc, fs.major_vmas, True),
                                     ("minor fault", fs.minor_proc, fs.minor_vmas, False)):
        lua0 = script_usec(redis_url)
        samples, _, results = time_faults(proc, vmas, major)
        lua_us = per_fault(lua0, script_usec(redis_url), n)
        tree = mm.trace(results[len(results) // 2].trace_id)
        row = summarize(label, samples)
        row.update(hops=tree.hops, redis=tree.redis_round_trips, lua_us=lua_us)
        rows.append(row)
        for writes in (False, True):
            base = summarize(f"echo x{tree.hops} hops{', writes' if writes else ''}",
                             run_echo(mm, echo_chain(mm, tree, writes), n))
            base.update(hops=tree.hops, redis=tree.redis_round_trips)
            row["ratio_writes" if writes else "ratio"] = row["p50_ms"] / base["p50_ms"]
            rows.append(base)
    return rows


SERVICE_MODULES = ("mmsim.allocator.server", "mmsim.pagecache.server", "mmsim.filesystem.server", "mmsim.rmap.server")
"""Imported by ``bench scripts`` so that every SpecScript the services run is declared here by name."""
LUA_CLIENT = b"?:0"    # SLOWLOG's client address of a command a script ran (redis.call)
TOP_LEVEL_CALLS = 30   # EVALSHAs of each script's libraries alone, for their top-level cost
SLOWLOG_PER_FAULT = 400   # SLOWLOG entries kept per fault (a major fault logs about 120)
NOT_CACHED = "(EVAL: not in the script cache)"


@contextmanager
def slowlog_everything(client: redis.Redis, entries: int):
    """SLOWLOG of every command (slower-than 0 us, ``entries`` kept) while inside; that Redis's own settings
    come back after."""
    old = client.config_get("slowlog-*")
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", entries)
    client.slowlog_reset()
    try:
        yield
    finally:
        for k, v in old.items():
            client.config_set(k, v)


def _script_calls(log: list[dict]) -> list[tuple[str, int, int]]:
    """(SHA1, microseconds, redis.call count) of each EVALSHA/EVAL in a SLOWLOG, oldest first. A script's
    own commands are logged before it (Redis runs one command at a time), so they are the LUA_CLIENT entries
    since the previous command of a real client."""
    out, inner = [], 0
    for e in sorted(log, key=lambda e: e["id"]):
        if e["client_address"] == LUA_CLIENT:
            inner += 1
            continue
        words = e["command"].split(b" ", 2)
        verb = words[0].upper()
        if verb == b"EVALSHA" and len(words) > 1:
            out.append((words[1].decode(), e["duration"], inner))
        elif verb == b"EVAL":   # a NOSCRIPT fallback: SLOWLOG keeps 128 bytes of the source, not enough to name it
            out.append((NOT_CACHED, e["duration"], inner))
        inner = 0
    return out


def top_level_us(client: redis.Redis, libraries: str) -> float:
    """p50 microseconds (SLOWLOG) of an EVALSHA of a script's libraries alone: what its every call pays to
    define their functions again before its body runs (FUNCTION LOAD, Redis >= 7, would pay it once)."""
    sha = client.script_load(libraries + "\nreturn 0")
    client.evalsha(sha, 0)
    with slowlog_everything(client, TOP_LEVEL_CALLS + 10):
        for _ in range(TOP_LEVEL_CALLS):
            client.evalsha(sha, 0)
        durations = [us for s, us, _ in _script_calls(client.slowlog_get(TOP_LEVEL_CALLS + 10)) if s == sha]
    return percentile(durations, 0.5)


def bench_scripts(mm: Cluster, n: int, redis_url: str) -> list[dict]:
    """`mmsim bench scripts`: the Redis time of a major and of a minor fault, script by script (SLOWLOG of
    every command of the stack's Redis while ``n`` faults of each kind run): calls per fault, the p50 of one
    call, microseconds per fault, redis.call per call, and the top level of its libraries (p50 of one
    EVALSHA of them alone). Rows ``(outside scripts)``: the other commands (the span export, pipelines);
    ``(all)``: the sum. SLOWLOG's own entries cost about a microsecond per command, so the sums are a little
    above INFO commandstats'."""
    for module in SERVICE_MODULES:
        importlib.import_module(module)
    client = redis.Redis.from_url(redis_url, socket_timeout=30)
    try:
        return _scripts_rows(mm, n, client)
    except redis.ConnectionError as exc:
        raise errors.Unavailable(f"the stack's Redis at {redis_url} does not answer: {exc}") from None
    except redis.RedisError as exc:   # e.g. a Redis whose CONFIG SET is renamed or refused
        raise errors.FailedPrecondition(f"the stack's Redis at {redis_url} refused the SLOWLOG settings: {exc}") \
            from None
    finally:
        client.close()


def _scripts_rows(mm: Cluster, n: int, client: redis.Redis) -> list[dict]:
    """bench_scripts' rows, on a client of the stack's Redis (asked first: no files are made for nothing)."""
    client.ping()
    fs = prepare_faults(mm, n)
    rows, libs_us = [], {}
    for kind, proc, vmas, major in (("major", fs.major_proc, fs.major_vmas, True),
                                    ("minor", fs.minor_proc, fs.minor_vmas, False)):
        with slowlog_everything(client, SLOWLOG_PER_FAULT * n):
            time_faults(proc, vmas, major)
            log = client.slowlog_get(SLOWLOG_PER_FAULT * n)
        calls: dict[str, list[tuple[int, int]]] = {}
        for sha, us, inner in _script_calls(log):
            calls.setdefault(sha, []).append((us, inner))
        script_rows = []
        for sha, got in calls.items():
            named = lua.named(sha)
            if named and sha not in libs_us:
                libs_us[sha] = top_level_us(client, named.libraries)
            name = named.name if named else (sha if sha == NOT_CACHED else f"sha:{sha[:8]}")
            script_rows.append({"fault": kind, "script": name,
                                "calls": len(got) / n, "p50_us": percentile([us for us, _ in got], 0.5),
                                "us_per_fault": sum(us for us, _ in got) / n,
                                "redis_calls": sum(i for _, i in got) / len(got),
                                "top_level_us": libs_us.get(sha)})
        script_rows.sort(key=lambda r: -r["us_per_fault"])
        outside = sum(e["duration"] for e in log if e["client_address"] != LUA_CLIENT) / n \
            - sum(r["us_per_fault"] for r in script_rows)
        script_rows.append({"fault": kind, "script": "(outside scripts)", "us_per_fault": outside})
        script_rows.append({"fault": kind, "script": "(all)",
                            "us_per_fault": sum(r["us_per_fault"] for r in script_rows)})
        rows += script_rows
    return rows


@contextmanager
def private_inproc():
    """An in-process cluster (MMSIM_TRANSPORT=inproc) on a redis-server of its own."""
    with tempfile.TemporaryDirectory(prefix="mmsim-bench-inproc-") as state:
        server = start_redis(workdir=os.path.join(state, "redis"))
        try:
            settings = config.load({**config.load().env(), "MMSIM_REDIS_URL": server.url, "MMSIM_STATE_DIR": state,
                                    "MMSIM_TRANSPORT": "inproc"})
            with Cluster.connect(settings) as mm:
                yield mm
        finally:
            server.stop()


# ---- bench run: every figure beside its floor ----------------------------------------------------------

def metric(value: float, unit: str, better: str, floor: float | None = None, floor_label: str = "") -> dict:
    """One figure of one run; ``better`` is "higher" or "lower"; ``floor``: its floor/baseline (same run)."""
    out = {"value": value, "unit": unit, "better": better}
    if floor is not None:
        out.update(floor=floor, floor_label=floor_label, ratio=value / floor if floor else 0.0)
    return out


def evalsha_ms(url: str, n: int) -> float:
    """p50 of one bare EVALSHA round trip (a script that returns at once) from this process."""
    client = redis.Redis.from_url(url)
    sha = client.script_load("return 1")
    samples = [timed(lambda: client.evalsha(sha, 0))[0] for _ in range(n)]
    client.close()
    return percentile(samples, 0.5)


def fault_metrics(mm: Cluster, n: int, transport: str, floor_rt_ms: float) -> dict[str, dict]:
    """Major and minor faults from 1 and from 8 clients; beside each, the echo chain of its hops and round
    trips (same transport) and the bare-Redis floor (its round trips x one EVALSHA)."""
    out: dict[str, dict] = {}
    for clients in (1, 8):
        fs = prepare_faults(mm, n)
        for kind, proc, vmas, major in (("major", fs.major_proc, fs.major_vmas, True),
                                        ("minor", fs.minor_proc, fs.minor_vmas, False)):
            lua0 = script_usec(mm.settings.redis_url) if clients == 1 else None
            samples, wall, results = time_faults(proc, vmas, major, clients)
            row = summarize(kind, samples, wall)
            key = f"{transport}.fault.{kind}.c{clients}"
            if clients == 1:
                out[f"{transport}.fault.{kind}.lua_us"] = metric(per_fault(lua0, script_usec(mm.settings.redis_url), n),
                                                                 "us/fault", "lower")
                tree = mm.trace(results[len(results) // 2].trace_id)
                for writes, suffix, floor_is in ((False, "", f"echo x{tree.hops} hops"),
                                                 (True, "_vs_writes", f"echo x{tree.hops} hops, durable writes")):
                    echo = summarize("echo", run_echo(mm, echo_chain(mm, tree, writes), n))
                    out[f"{key}.p50_ms{suffix}"] = metric(row["p50_ms"], "ms", "lower", echo["p50_ms"], floor_is)
                out[f"{key}.p99_ms"] = metric(row["p99_ms"], "ms", "lower")
                out[f"{transport}.fault.{kind}.hops"] = metric(tree.hops, "hops", "lower")
                out[f"{transport}.fault.{kind}.redis_round_trips"] = metric(tree.redis_round_trips, "round trips", "lower")
                out[f"{key}.redis_floor_ms"] = metric(row["p50_ms"], "ms", "lower", tree.redis_round_trips * floor_rt_ms,
                                                      "its round trips x one bare EVALSHA")
            out[f"{key}.per_s"] = metric(row["per_s"], "faults/s", "higher")
    return out


def populate_metrics(mm: Cluster, kib: int) -> dict[str, dict]:
    """MiB/s read through a mapping of an uncached file (faults populate the page cache) by the largest folio
    order allowed, beside the same read once mapped (no fault: the floor); XArray nodes and Redis bytes,
    scaled from that one file (a file smaller than one node's span still has a node: use --populate-kib
    of a few MiB for the nodes-per-GiB figure)."""
    out: dict[str, dict] = {}
    size, mib = kib << 10, kib / 1024
    for order in (0, 2, 4, 9):
        fs = mm.mkfs(f"pop{order}x{time.time_ns() % 10**8}", block_size=4096, max_folio_order=order)
        f = fs.create("/data")
        for off in range(0, size, 64 << 10):   # write(2) in 64 KiB calls (an order-0 file costs per page)
            f.write(off, b"\x5a" * min(64 << 10, size - off))
        f.fsync()
        f.fadvise_dontneed()
        proc = mm.spawn("bench-populate")
        vma = proc.mmap(f, size)
        cold_ms, _ = timed(lambda: proc.read(vma.start, size))
        warm_ms, _ = timed(lambda: proc.read(vma.start, size))
        st = f.xa_stats()
        out[f"populate.o{order}.mib_s"] = metric(mib / (cold_ms / 1000), "MiB/s", "higher", mib / (warm_ms / 1000),
                                                 "read of the mapped pages (no fault)")
        out[f"pagecache.o{order}.redis_bytes_per_page"] = metric(st.redis_bytes / max(1, st.nrpages), "B/page", "lower")
        out[f"pagecache.o{order}.nodes_per_gib"] = metric(st.nodes * (1 << 30) / size, "nodes", "lower")  # from one file
        proc.exit()
        f.fadvise_dontneed()
    return out


def alloc_metrics(mm: Cluster, n: int) -> dict[str, dict]:
    """AllocPages + FreePages through the allocator service, beside the echo chain of the same hop."""
    out: dict[str, dict] = {}
    for order in (0, 9):
        traces = []

        def pair():
            page = mm.alloc_pages(order, "GFP_KERNEL")
            traces.append(mm.last_trace_id)
            mm.free_pages(page.folio)

        ms = [timed(pair)[0] for _ in range(n)]
        tree = mm.trace(traces[len(traces) // 2])
        hops = [trace_pb2.EchoHop(addr=mm.settings.addrs["allocator"], redis_round_trips=tree.redis_round_trips)]
        echo = run_echo(mm, hops, n)
        out[f"alloc.o{order}.per_s"] = metric(2000 / percentile(ms, 0.5), "calls/s", "higher",
                                              1000 / percentile(echo, 0.5), "echo of the same hop")
    return out


def xarray_metrics(url: str, n: int) -> dict[str, dict]:
    """XArray stores and loads per second on Redis directly, beside bare EVALSHA round trips per second."""
    from mmsim.pagecache.xarray import Value, XArray  # noqa: PLC0415

    async def go() -> dict[str, dict]:
        import redis.asyncio as aioredis  # noqa: PLC0415

        client = aioredis.Redis.from_url(url)
        sha = await client.script_load("return 1")

        async def rate(op) -> float:
            t0 = time.perf_counter()
            for i in range(n):
                await op(i)
            return n / (time.perf_counter() - t0)

        floor = await rate(lambda i: client.evalsha(sha, 0))
        xa = XArray(client, f"mmsim:{{m:bench/{time.time_ns() % 10**8}}}:xa")
        store = await rate(lambda i: xa.store(i, Value(i)))
        load = await rate(lambda i: xa.load(i))
        await xa.destroy()
        await client.aclose()
        return {"xarray.store.per_s": metric(store, "ops/s", "higher", floor, "bare EVALSHA/s"),
                "xarray.load.per_s": metric(load, "ops/s", "higher", floor, "bare EVALSHA/s")}

    return asyncio.run(go())


def one_run(faults: int, kib: int, ops: int) -> dict[str, dict]:
    """Every figure once: over gRPC (a private stack), then in-process; the in-process speed-up."""
    out: dict[str, dict] = {}
    with stack.private(prefix="mmsim-bench-") as settings, Cluster.connect(settings) as mm:
        rt = evalsha_ms(settings.redis_url, ops)
        out["redis.evalsha_ms"] = metric(rt, "ms", "lower")
        out.update(fault_metrics(mm, faults, "grpc", rt))
        out.update(populate_metrics(mm, kib))
        out.update(alloc_metrics(mm, faults))
        out.update(xarray_metrics(settings.redis_url, ops))
    with private_inproc() as mm:
        out.update(fault_metrics(mm, faults, "inproc", evalsha_ms(mm.settings.redis_url, ops)))
    for kind in ("major", "minor"):
        for c in (1, 8):
            g, i = out[f"grpc.fault.{kind}.c{c}.per_s"]["value"], out[f"inproc.fault.{kind}.c{c}.per_s"]["value"]
            out[f"inproc.fault.{kind}.c{c}.speedup"] = metric(i / g, "x", "higher")
    return out


def aggregate(runs: list[dict[str, dict]]) -> dict[str, dict]:
    """Median of each figure (and of its floor and ratio) over the runs, with min..max as the spread."""
    out = {}
    for name in runs[0]:
        vals = [r[name]["value"] for r in runs if name in r]
        m = dict(runs[0][name], value=statistics.median(vals), min=min(vals), max=max(vals), runs=len(vals))
        for k in ("floor", "ratio"):
            if k in runs[0][name]:
                m[k] = statistics.median(r[name][k] for r in runs if name in r)
        out[name] = m
    return out


def suite(repeats: int, faults: int, kib: int, ops: int, progress=None) -> dict:
    runs, loads = [], []
    for i in range(repeats):
        before = os.getloadavg()[0]
        runs.append(one_run(faults, kib, ops))
        loads.append((before, os.getloadavg()[0]))
        if progress:
            progress(i + 1, repeats, loads[-1])
    return {"schema": SCHEMA, "time_unix": time.time(), "repeats": repeats, "faults": faults, "populate_kib": kib,
            "ops": ops, "loadavg_1m": loads, "cpus": os.cpu_count(), "metrics": aggregate(runs), "runs": runs}


def compare(a: dict, b: dict, threshold: float = 0.10) -> list[dict]:
    """Figures of B against A: a regression is a change for the worse larger than ``threshold`` and larger
    than the noise (the wider of the two runs' relative spreads, max-min over the median)."""
    rows = []
    for name, ma in a["metrics"].items():
        mb = b["metrics"].get(name)
        if mb is None or not ma["value"]:
            continue
        change = (mb["value"] - ma["value"]) / ma["value"]
        noise = max(((m["max"] - m["min"]) / m["value"]) if m["value"] else 0.0 for m in (ma, mb))
        worse = -change if ma["better"] == "higher" else change
        verdict = "regression" if worse > max(threshold, noise) else (
            "improvement" if -worse > max(threshold, noise) else "same")
        rows.append({"metric": name, "a": ma["value"], "b": mb["value"], "unit": ma["unit"], "change": change,
                     "noise": noise, "verdict": verdict})
    return rows
