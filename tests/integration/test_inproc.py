"""The in-process mode (MMSIM_TRANSPORT=inproc, mmsim.runtime.inproc): the same service code wired by direct
calls gives the same counters, the same traces (hops, round trips, services) and the same statuses as the
cluster over gRPC, for the same seeded workload."""

from __future__ import annotations

import asyncio
import random

import pytest

from mmsim import errors
from mmsim.client import PAGE_SIZE, Cluster
from mmsim.runtime import config
from mmsim.runtime.redis_server import start_redis

SEED = 1016


def workload(mm: Cluster, seed: int) -> dict:
    """Files written and dropped from the page cache, mapped by two processes, faulted (read, shared write,
    private write) at random pages; then munmap and exit. Returns what a user reads back."""
    rng = random.Random(seed)
    fs = mm.mkfs("wl", block_size=rng.choice([4096, 16384]))
    files = []
    for i in range(4):
        f = fs.create(f"/f{i}")
        pages = rng.randint(4, 40)
        f.write(0, bytes([65 + i]) * (pages * PAGE_SIZE - rng.randint(0, 100)))
        f.fsync()
        if rng.random() < 0.75:
            f.fadvise_dontneed()
        files.append((f, pages))
    procs = [mm.spawn("p0"), mm.spawn("p1")]
    out = {"faults": [], "reads": []}
    vmas = []
    for p in procs:
        for f, pages in files:
            shared = rng.random() < 0.5
            vmas.append((p, p.mmap(f, pages * PAGE_SIZE, prot="rw", shared=shared), pages))
    for _ in range(40):
        p, vma, pages = rng.choice(vmas)
        addr = vma.start + rng.randrange(pages + 1) * PAGE_SIZE   # one page past EOF now and then: SIGBUS
        write = rng.random() < 0.3
        r = p.fault(addr, write=write)
        tree = mm.trace(r.trace_id, timeout=120)
        assert tree.complete, r.trace_id
        out["faults"].append((str(r.vm_fault), r.major, r.pages_mapped, tree.hops, tree.redis_round_trips,
                              sorted(s.service for s in tree.spans)))
    for p, vma, pages in vmas[:3]:
        out["reads"].append(p.read(vma.start, 2 * PAGE_SIZE))
    out["status"] = [(s.min_flt, s.maj_flt, s.rss_file, s.rss_anon) for s in (p.status() for p in procs)]
    procs[0].munmap(vmas[0][1].start, PAGE_SIZE)
    for p in procs:
        p.exit()
    out["vmstat"] = mm.vmstat()
    out["meminfo"] = mm.allocator.meminfo()
    with pytest.raises(errors.NotFound):
        procs[0].status()
    return out


@pytest.fixture(scope="module")
def inproc_settings(tmp_path_factory):
    state = tmp_path_factory.mktemp("mmsim-inproc")
    redis = start_redis(workdir=state / "redis")
    try:
        yield config.load({**config.load().env(), "MMSIM_REDIS_URL": redis.url, "MMSIM_STATE_DIR": str(state),
                           "MMSIM_MEMORY": "256MiB", "MMSIM_TRANSPORT": "inproc"})
    finally:
        redis.stop()


def test_inproc_gives_the_clusters_counters_traces_and_statuses(private_stack, inproc_settings):
    print(f"workload seed {SEED}")
    with private_stack("mmsim-vs-inproc", MMSIM_MEMORY="256MiB") as settings, Cluster.connect(settings) as mm:
        over_grpc = workload(mm, SEED)
    with Cluster.connect(inproc_settings) as mm:
        assert mm._runner is not None   # MMSIM_TRANSPORT=inproc: the services run in this process
        in_process = workload(mm, SEED)
        assert mm.echo().hops >= 1
    assert in_process["faults"] == over_grpc["faults"]
    assert in_process["reads"] == over_grpc["reads"]
    assert in_process["status"] == over_grpc["status"]
    assert in_process["vmstat"] == over_grpc["vmstat"]
    assert in_process["meminfo"] == over_grpc["meminfo"]
    assert over_grpc["vmstat"]["pgmajfault"] > 0 and over_grpc["vmstat"]["pgfault"] > 0


def test_inproc_statuses_travel_back_as_grpc_errors(inproc_settings):
    with Cluster.connect(inproc_settings) as mm:
        with pytest.raises(errors.NotFound):
            mm.process(999999)
        with pytest.raises(errors.InvalidArgument):
            mm.spawn("")
        assert mm.spawn("alive").pid > 0


def test_inproc_stack_stops_every_task_it_started(inproc_settings):
    """Leaving the in-process cluster stops the services' tasks, kswapd's among them (kthread_stop): none is
    left pending on the loop (which Python would report as 'Task was destroyed but it is pending')."""
    with Cluster.connect(inproc_settings) as mm:
        mm.spawn("one")
        loop = mm._runner._loop
        assert any(t.get_name().startswith("kswapd") for t in asyncio.all_tasks(loop))
    assert loop.is_closed() and not asyncio.all_tasks(loop)


def test_transport_must_be_known():
    with pytest.raises(ValueError, match="MMSIM_TRANSPORT"):
        config.load({"MMSIM_TRANSPORT": "carrier-pigeon"})
