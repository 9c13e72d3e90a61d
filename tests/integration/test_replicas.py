"""The services are stateless: two replicas of each, one Redis, and every answer is the same whichever replica
gives it.

Replica set A and replica set B are separate processes on their own free ports (A's services call A's peers,
B's call B's: a service's configuration names one address per peer), both started at the same time against
ONE fresh redis-server (so start-up preparation of Redis state is raced, too). The client sends some calls to
A and some to B, and mixes them inside one Cluster. Processes are stopped by PID.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import redis as redis_lib

from mmsim import stack
from mmsim.client import PAGE_SIZE, Cluster, File, Process, new_traceparent
from mmsim.runtime import config, keys
from mmsim.runtime.redis_server import start_redis
from mmsim.runtime.vmfault import VmFault
from mmsim.v1 import filesystem_pb2 as fs_pb
from mmsim.v1 import page_allocator_pb2 as pa

HOLE = 512 << 10  # a page the write below leaves uncached (a hole): the first touch is a major fault


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    root = tmp_path_factory.mktemp("replicas")
    redis = start_redis(workdir=root / "redis")
    base = config.load({"MMSIM_REDIS_URL": redis.url, "MMSIM_MEMORY": "256MiB", "MMSIM_LOG_LEVEL": "info"})
    a = stack.replica_settings(base, str(root / "a"))
    b = stack.replica_settings(base, str(root / "b"))
    assert a.redis_url == b.redis_url and set(a.addrs.values()).isdisjoint(b.addrs.values())
    try:
        with ThreadPoolExecutor(2) as pool:  # both sets start at once: eight processes, one empty Redis
            for fut in [pool.submit(stack.services_up, s, None, 60) for s in (a, b)]:
                fut.result()
        yield a, b
    finally:
        stack.services_down(a)
        stack.services_down(b)
        redis.stop()


def _on(cluster: Cluster, obj):
    """The same file or process, driven through another cluster's replicas."""
    if isinstance(obj, File):
        return File(cluster, obj.fs, obj.path, obj.mapping)
    return Process(cluster, obj.pid, obj.comm)


def test_two_replica_sets_serve_one_state(replicas):
    sa, sb = replicas
    with Cluster.connect(sa) as A, Cluster.connect(sb) as B:
        # mkfs/create/write via A
        fs = A.mkfs("r" + secrets.token_hex(4), block_size=16384, profile="linux-6.12")
        f = fs.create("/data/shared")
        payload = b"replica" * 2000
        f.write(0, payload)
        f.write(1 << 20, b"end")
        assert _on(B, f).stat().i_size == f.stat().i_size == (1 << 20) + 3
        assert _on(B, f).read(0, len(payload)) == payload

        # a process spawned via B faults the hole via B: major, through B's four services
        p1 = B.spawn("reader-b")
        v1 = p1.mmap(_on(B, f), length=2 << 20, prot="r", shared=True)
        first = p1.fault(v1.start + HOLE)
        assert first.ok and first.major and first.vm_fault & VmFault.MAJOR, first
        trace_b = B.trace(first.trace_id)
        assert trace_b.services >= {"rmap", "pagecache", "filesystem", "allocator"}
        # every span of that trace came from B's processes; A reads the very same trace
        trace_a = A.trace(first.trace_id)
        assert [(s.span_id, s.service, s.name) for s in trace_a.spans] == \
               [(s.span_id, s.service, s.name) for s in trace_b.spans]
        assert A.traces(50).count(first.trace_id) == 1

        # a second process, spawned via A, faults the same page via A: minor, the same folio
        p2 = A.spawn("reader-a")
        assert p2.pid != p1.pid  # pids come from Redis, not from a replica's memory
        v2 = p2.mmap(f, length=2 << 20, prot="r", shared=True)
        second = p2.fault(v2.start + HOLE)
        assert second.ok and not second.major, second
        assert (second.folio_pfn, second.folio_order) == (first.folio_pfn, first.folio_order)
        methods = A.trace(second.trace_id).methods()
        assert not any("Populate" in m or "AllocPages" in m for m in methods), methods

        # p1 (B's process) seen through A: the PTE B installed is there (spurious fault), memory reads the same
        again = _on(A, p1).fault(v1.start + HOLE)
        assert again.ok and again.spurious and again.pfn == first.pfn, again
        assert _on(A, p1).read(v1.start, len(payload)) == p1.read(v1.start, len(payload)) == payload

        # struct page of the folio: the same descriptor from either allocator replica
        pages = [c.call("allocator", "GetPage", pa.GetPageRequest(pfn=first.folio_pfn)).page for c in (A, B)]
        assert pages[0] == pages[1]
        assert pages[0].mapping == f.mapping and pages[0].mapcount >= 1, pages[0]


def test_one_cluster_mixing_replicas(replicas):
    """One client whose rmap is A's and whose filesystem is B's: the state it sees is one state."""
    sa, sb = replicas
    mixed = sa.with_addrs(filesystem=sb.addrs["filesystem"], allocator=sb.addrs["allocator"])
    with Cluster.connect(mixed) as M, Cluster.connect(sa) as A, Cluster.connect(sb) as B:
        fs = M.mkfs("m" + secrets.token_hex(4), block_size=4096, profile="linux-6.12")
        f = fs.create("/data/m")
        f.write(8 * PAGE_SIZE, b"x")
        proc = M.spawn("mixed")
        vma = proc.mmap(f, length=16 * PAGE_SIZE, prot="r")
        r = proc.fault(vma.start)
        assert r.major and r.ok
        st = [c.call("allocator", "VmStat", pa.VmStatRequest()).values for c in (A, B)]
        assert st[0] == st[1]
        assert st[0]["pgfault"] >= 1 and sum(v for k, v in st[0].items() if k.startswith("pgalloc_")) >= 1, st[0]


def test_losing_a_replica_set_loses_no_state(replicas):
    sa, sb = replicas
    with Cluster.connect(sa) as A:
        fs = A.mkfs("k" + secrets.token_hex(4), block_size=4096)
        f = fs.create("/data/k")
        f.write(0, b"survives")
        proc = A.spawn("survivor")
        vma = proc.mmap(f, length=4 * PAGE_SIZE, prot="r")
        assert proc.fault(vma.start).ok
    stopped = stack.services_down(sa)          # replica set A is gone (SIGTERM by PID)
    assert sorted(stopped) == sorted(config.SERVICES)
    try:
        with Cluster.connect(sb) as B:
            assert _on(B, f).read(0, 8) == b"survives"
            assert _on(B, proc).read(vma.start, 8) == b"survives"
            assert B.spawn("after").pid > proc.pid
    finally:
        stack.services_up(sa, timeout=60)      # back, for any test after this one


STORM_THREADS, STORM_OPS, STORM_SPAN = 16, 10, 16 * PAGE_SIZE


def _storm_thread(clusters, f, tid: int, seed: int, done: list, errors: list) -> None:
    """One client thread: writes, truncates and faults on the one file, alternating the replica sets."""
    rng = random.Random(seed * 1000 + tid)
    procs = {}
    for i in range(STORM_OPS):
        side = (tid + i) % 2
        c = clusters[side]
        kind = rng.choice(["write", "write", "truncate", "fault"])
        trace_id, tp = new_traceparent()
        try:
            if kind == "write":
                off, n = rng.randrange(0, STORM_SPAN - PAGE_SIZE), rng.randrange(1, 2 * PAGE_SIZE)
                data = bytes([1 + (tid * STORM_OPS + i) % 251]) * n
                c.stubs["filesystem"].Write(fs_pb.WriteRequest(mapping=f.mapping, offset=off, data=data),
                                            metadata=[("traceparent", tp)], timeout=120)
                done.append((trace_id, "write", off, data))
            elif kind == "truncate":
                size = rng.randrange(0, STORM_SPAN + 1)
                c.stubs["filesystem"].Truncate(fs_pb.TruncateRequest(mapping=f.mapping, size=size),
                                               metadata=[("traceparent", tp)], timeout=120)
                done.append((trace_id, "truncate", size, b""))
            else:
                if side not in procs:
                    p = c.spawn(f"storm{tid}")
                    procs[side] = (p, p.mmap(_on(c, f), length=STORM_SPAN, prot="r", shared=True))
                p, vma = procs[side]
                r = p.fault(vma.start + rng.randrange(0, 16) * PAGE_SIZE)
                assert r.ok or r.vm_fault & VmFault.SIGBUS, r      # SIGBUS: past EOF at that moment
        except grpc.RpcError as exc:
            errors.append((kind, exc.code().name, exc.details()))


def _i_rwsem_token(cluster, trace_id: str, mapping: str) -> int:
    """The fencing token of the i_rwsem grant the operation ran under (its span's lock.acquire event)."""
    for span in cluster.trace(trace_id).spans:
        for ev in span.events:
            if ev.name == "lock.acquire" and ev.attributes["lock"] == "&inode->i_rwsem" \
                    and ev.attributes["mapping"] == mapping:
                return int(ev.attributes["token"])
    raise AssertionError(f"no i_rwsem grant in trace {trace_id}")


def test_storm_of_writes_truncates_and_faults_from_two_replica_sets(replicas):
    """16 threads on one file through both replica sets at once: the bytes are those of the operations
    replayed in the order of their i_rwsem grants (the serialization the shared lock imposed), the
    filesystem's blocks add up, and no call failed (no NOT_FOUND)."""
    seed = int(os.environ.get("MMSIM_STORM_SEED", "15"))
    print(f"storm seed {seed} (MMSIM_STORM_SEED)")
    sa, sb = replicas
    with Cluster.connect(sa) as A, Cluster.connect(sb) as B:
        fs = A.mkfs("s" + secrets.token_hex(4), block_size=4096)
        f = fs.create("/storm")
        done, errors = [], []
        threads = [threading.Thread(target=_storm_thread, args=((A, B), f, t, seed, done, errors))
                   for t in range(STORM_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], errors
        model = bytearray()
        for _, kind, arg, data in sorted(done, key=lambda d: _i_rwsem_token(A, d[0], f.mapping)):
            if kind == "write":
                model[len(model):] = bytes(max(0, arg + len(data) - len(model)))
                model[arg:arg + len(data)] = data
            else:
                del model[arg:]
                model[len(model):] = bytes(arg - len(model))
        assert f.stat().i_size == len(model)
        assert f.read(0, STORM_SPAN) == bytes(model) == _on(B, f).read(0, STORM_SPAN)
        reader = B.spawn("storm-check")
        vma = reader.mmap(_on(B, f), length=STORM_SPAN, prot="r", shared=True)
        whole = len(model) // PAGE_SIZE * PAGE_SIZE
        assert reader.read(vma.start, whole) == bytes(model[:whole])     # the page cache agrees
        f.fsync()
        assert f.read(0, STORM_SPAN) == bytes(model)
        r = redis_lib.Redis.from_url(sa.redis_url)
        used = int(r.hget(keys.fs(fs.name, "sb"), "blocks_used") or 0)
        pointed = [int(b) for b in r.hvals(keys.mapping(f.mapping, "extents"))]
        refs = {int(k): int(v) for k, v in r.hgetall(keys.fs(fs.name, "blkref")).items()}
        assert used == len(refs) == len(pointed) == len(set(pointed)), (used, refs, pointed)
        assert all(refs[b] == 1 for b in pointed)
