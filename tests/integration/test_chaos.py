"""Nothing lost when a service dies: the in-flight ledger, the recovery pass and `Check`, on a stack of its own.

* a deterministic workload leaves a clean cluster (Check: no violation), and every owner kind is counted;
* a corruption of each domain is reported with its rule (then undone);
* chaos: a seeded random workload of 8 client threads (mkfs, create, write, fsync, mmap, fault, WriteMemory,
  munmap, truncate, punch, reflink, unlink, exit) while a random service is SIGKILLed every 200 operations
  and restarted. Calls that fail with UNAVAILABLE (or another status a dying peer causes) are fine. At the
  end, once every process has exited and every file is unlinked and a recovery pass ran: Check reports no
  violation, nr_free_pages is back to its value before the workload, and the bytes of every file whose
  history the model knows read back as the model says.
The seed is printed (MMSIM_CHAOS_SEED reproduces a run); the figures are printed for the report.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from dataclasses import dataclass, field

import grpc
import pytest

import crash
from mmsim import stack
from mmsim.client import Cluster
from mmsim.runtime import config, keys
from mmsim.v1 import filesystem_pb2 as fpb
from mmsim.v1 import page_cache_pb2 as pcpb
from mmsim.v1 import reverse_map_pb2 as rpb

PAGE = 4096
THREADS = 8
OPERATIONS = 2000
KILL_EVERY = 200
VICTIMS = config.SERVICES
"""What the killer picks from at every kill but one."""
REDIS_KILL = 5
"""Which kill of the run is Redis's (kill -9, restarted on its append-only file with the services left
running: they see UNAVAILABLE, then the same boot epoch)."""
FILE_PAGES = 32


@pytest.fixture(scope="module")
def chaos_settings(private_stack):
    with private_stack("mmsim-chaos", MMSIM_MEMORY="64MiB", MMSIM_LOG_LEVEL="warning",
                       MMSIM_RECOVERY_INTERVAL_S="0") as settings:
        yield settings


@pytest.fixture()
def mm(chaos_settings):
    with Cluster.connect(chaos_settings) as c:
        yield c


def _redis(settings):
    import redis  # noqa: PLC0415

    return redis.Redis.from_url(settings.redis_url)


def test_a_clean_workload_checks_clean_and_counts_every_owner(mm):
    fs = mm.mkfs("c" + secrets.token_hex(3), profile="linux-6.12")
    f = fs.create("/a")
    f.write(0, os.urandom(16 * PAGE))
    proc = mm.spawn("checker")
    shared = proc.mmap(f, 16 * PAGE, prot="rw", shared=True)
    private = proc.mmap(f, 16 * PAGE, prot="rw", shared=False)
    assert proc.fault(shared.start).ok and proc.fault(private.start + PAGE, write=True).ok   # a COW page
    report = mm.check()
    assert report.ok, [v.to_dict() for v in report.violations]
    assert report.owners["page_cache"] >= 16 and report.owners["anon"] == 1 and report.owners["in_flight"] == 0
    assert report.checked["pfns"] == 64 << 8 and report.checked["ptes"] >= 2
    assert report.checked["mapped_pages"] == report.checked["ptes_raising_mapcount"]
    assert report.to_dict()["violations"] == []
    mm.call("rmap", "Exit", rpb.ExitRequest(pid=proc.pid))
    mm.call("filesystem", "Unlink", fpb.UnlinkRequest(fs=fs.name, path="/a"))
    assert mm.check().ok


def test_each_domain_reports_a_corruption_with_its_rule(mm, chaos_settings):
    fs = mm.mkfs("k" + secrets.token_hex(3), profile="linux-6.12")
    f = fs.create("/k")
    f.write(0, b"k" * PAGE)
    f.fsync()   # writeback gives the page a disk block
    proc = mm.spawn("corrupt")
    vma = proc.mmap(f, PAGE, prot="r", shared=True)
    r = proc.fault(vma.start)
    r_ = _redis(chaos_settings)
    blkref = keys.fs(fs.name, "blkref")
    block = next(iter(r_.hkeys(blkref)))
    ptes = keys.mm(proc.pid, "pte")
    pte = r_.hget(ptes, str(vma.start >> 12))
    inode = keys.mapping(f.mapping, "inode")
    try:
        r_.hset(inode, "i_size", 0)             # as a truncate killed after its first step leaves it
        rules = {(v.service, v.rule, v.pfn) for v in mm.check().violations}
        assert {("pagecache", "cached_past_eof", r.folio_pfn), ("rmap", "mapped_past_eof", r.pfn)} <= rules, rules
    finally:
        r_.hset(inode, "i_size", PAGE)
    try:
        r_.hincrby(blkref, block, 1)           # filesystem: a block counted twice
        r_.hdel(ptes, str(vma.start >> 12))    # rmap: _mapcount raised by a PTE that is gone
        rules = {(v.service, v.rule, v.pfn) for v in mm.check().violations}
        assert ("filesystem", "block_refcount", -1) in rules
        assert ("rmap", "mapcount_mismatch", r.pfn) not in rules   # no PTE left to compare with ...
        assert any(rule == "mapcount_total" for _, rule, _ in rules)   # ... the cluster-wide sum sees it
    finally:
        r_.hincrby(blkref, block, -1)
        r_.hset(ptes, str(vma.start >> 12), pte)
    assert mm.check().ok
    mm.call("rmap", "Exit", rpb.ExitRequest(pid=proc.pid))
    mm.call("filesystem", "Unlink", fpb.UnlinkRequest(fs=fs.name, path="/k"))


# ---- chaos ------------------------------------------------------------------------------------------------

@dataclass
class FileModel:
    mapping: str
    path: str
    fs: str
    content: bytearray = field(default_factory=bytearray)
    certain: bool = True      # every operation on it so far has a known outcome
    fsynced: bool = False
    linked: bool = True
    history: list = field(default_factory=list)   # the operations applied, for the report of a mismatch
    traces: list = field(default_factory=list)    # the trace ids of its writes and fsyncs, for the same


@dataclass
class ProcModel:
    pid: int
    vmas: list = field(default_factory=list)   # (start, length, file, shared)
    alive: bool = True


@dataclass
class Stats:
    failed: dict = field(default_factory=dict)
    first: dict = field(default_factory=dict)    # "op:CODE" -> the first such failure's message
    kills: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, code: str, details: str = "") -> None:
        with self.lock:
            self.failed[code] = self.failed.get(code, 0) + 1
            self.first.setdefault(code, details)


class Worker:
    """One client thread: its own filesystem, files and processes, so its model is sequential."""

    def __init__(self, mm: Cluster, rng: random.Random, stats: Stats, tag: str):
        self.mm, self.rng, self.stats, self.tag = mm, rng, stats, tag
        self.files: list[FileModel] = []
        self.procs: list[ProcModel] = []
        self.fs: list[str] = []
        self.unknown: list[tuple[str, str]] = []   # (fs, path) of creates whose answer was lost: unlinked at the end
        self.n = 0

    # each op returns normally or raises grpc.RpcError; an error makes the touched file's model uncertain
    def op_mkfs(self):
        name = f"{self.tag}f{len(self.fs)}"
        self.fs.append(self.mm.mkfs(name, profile="linux-6.12").name)

    def op_create(self):
        if not self.fs:
            return self.op_mkfs()
        self.n += 1
        fs, path = self.rng.choice(self.fs), f"/{self.tag}-{self.n}"
        try:
            resp = self.mm.call("filesystem", "Create", fpb.CreateRequest(fs=fs, path=path))
        except grpc.RpcError:
            self.unknown.append((fs, path))
            raise
        self.files.append(FileModel(resp.mapping, path, fs))

    def _file(self) -> FileModel | None:
        live = [f for f in self.files if f.linked]
        return self.rng.choice(live) if live else None

    def _touch(self, f: FileModel, fn):
        try:
            return fn()
        except grpc.RpcError:
            f.certain = False
            raise

    def op_write(self):
        f = self._file()
        if f is None:
            return self.op_create()
        off = self.rng.randrange(0, FILE_PAGES * PAGE)
        data = bytes([self.rng.randrange(1, 256)]) * self.rng.randrange(1, 3 * PAGE)
        trace_id, _ = self._touch(f, lambda: self.mm._traced_call(
            "filesystem", "Write", fpb.WriteRequest(mapping=f.mapping, offset=off, data=data)))
        if len(f.content) < off:
            f.content.extend(bytes(off - len(f.content)))
        f.content[off:off + len(data)] = data
        f.history.append(f"write {off}+{len(data)}")
        f.traces.append(trace_id)

    def op_fsync(self):
        f = self._file()
        if f is not None:
            trace_id, _ = self._touch(f, lambda: self.mm._traced_call("filesystem", "Fsync",
                                                                      fpb.FsyncRequest(mapping=f.mapping)))
            f.fsynced = True
            f.history.append("fsync")
            f.traces.append(trace_id)

    def op_truncate(self):
        f = self._file()
        if f is not None:
            size = self.rng.randrange(0, FILE_PAGES * PAGE)
            self._touch(f, lambda: self.mm.call("filesystem", "Truncate", fpb.TruncateRequest(mapping=f.mapping, size=size)))
            del f.content[size:]
            f.content.extend(bytes(size - len(f.content)))
            f.history.append(f"truncate {size}")

    def op_punch(self):
        f = self._file()
        if f is not None and len(f.content) > PAGE:
            off = self.rng.randrange(0, len(f.content) - 1)
            length = self.rng.randrange(1, 4 * PAGE)
            self._touch(f, lambda: self.mm.call("filesystem", "PunchHole",
                                                fpb.PunchHoleRequest(mapping=f.mapping, offset=off, length=length)))
            end = min(len(f.content), off + length)
            f.content[off:end] = bytes(end - off)
            f.history.append(f"punch {off}+{length}")

    def op_reflink(self):
        src, dst = self._file(), self._file()
        if src is None or dst is None or src is dst or src.fs != dst.fs or len(src.content) < PAGE:
            return self.op_write()
        blocks = len(src.content) // PAGE
        n = self.rng.randrange(1, min(blocks, FILE_PAGES) + 1)   # a grown source: at most what dst's range takes
        so, do = self.rng.randrange(0, blocks - n + 1) * PAGE, self.rng.randrange(0, FILE_PAGES - n + 1) * PAGE
        try:
            self.mm.call("filesystem", "Reflink", fpb.ReflinkRequest(src_mapping=src.mapping, src_offset=so,
                                                                     dst_mapping=dst.mapping, dst_offset=do, length=n * PAGE))
        except grpc.RpcError:
            dst.certain = False
            raise
        if len(dst.content) < do:
            dst.content.extend(bytes(do - len(dst.content)))
        dst.content[do:do + n * PAGE] = src.content[so:so + n * PAGE]
        dst.history.append(f"reflink from {src.mapping} {so}+{n * PAGE} to {do} (source history {src.history})")
        # the source's bytes are known only if its own history is; a store through a shared mapping after a
        # writeback leaves a folio written but not tagged dirty (no folio_mkclean yet: the dirty-tracking work),
        # which a reflink, sharing what is on disk, does not carry over
        if not src.certain or any(h.startswith("WriteMemory") for h in src.history):
            dst.certain = False

    def op_unlink(self):
        # only files no live process maps: an unlinked file still mapped is an orphan (the orphan-inode work)
        mapped = {v[2].mapping for p in self.procs if p.alive for v in p.vmas}
        live = [f for f in self.files if f.linked and f.mapping not in mapped]
        if not live:
            return self.op_exit()
        f = self.rng.choice(live)
        f.linked = False   # whatever happens: retried at the end until the name is gone
        self.mm.call("filesystem", "Unlink", fpb.UnlinkRequest(fs=f.fs, path=f.path))

    def _proc(self) -> ProcModel:
        live = [p for p in self.procs if p.alive]
        if live and self.rng.random() < 0.8:
            return self.rng.choice(live)
        p = ProcModel(self.mm.call("rmap", "Spawn", rpb.SpawnRequest(comm=self.tag)).pid)
        self.procs.append(p)
        return p

    def op_mmap(self):
        f = self._file()
        if f is None:
            return self.op_create()
        p = self._proc()
        shared = self.rng.random() < 0.5
        resp = self.mm.call("rmap", "Mmap", rpb.MmapRequest(pid=p.pid, mapping=f.mapping, length=FILE_PAGES * PAGE,
                                                            prot=[rpb.PROT_READ, rpb.PROT_WRITE], shared=shared))
        p.vmas.append((resp.start, FILE_PAGES * PAGE, f, shared))

    def _vma(self):
        live = [(p, v) for p in self.procs if p.alive for v in p.vmas]
        return self.rng.choice(live) if live else (None, None)

    def op_fault(self):
        p, v = self._vma()
        if p is None:
            return self.op_mmap()
        addr = v[0] + self.rng.randrange(0, v[1] // PAGE) * PAGE
        self.mm.call("rmap", "HandleFault", rpb.HandleFaultRequest(pid=p.pid, address=addr, write=self.rng.random() < 0.4))

    def op_write_memory(self):
        p, v = self._vma()
        if p is None:
            return self.op_mmap()
        page = self.rng.randrange(0, v[1] // PAGE)
        if page * PAGE >= len(v[2].content):
            return self.op_fault()
        data = bytes([self.rng.randrange(1, 256)]) * self.rng.randrange(1, 64)
        req = rpb.WriteMemoryRequest(pid=p.pid, address=v[0] + page * PAGE, data=data)
        if not v[3]:
            self.mm.call("rmap", "WriteMemory", req)   # private: a COW copy, the file is unchanged
            return
        f = v[2]
        resp = self._touch(f, lambda: self.mm.call("rmap", "WriteMemory", req))
        end = min(len(f.content), page * PAGE + resp.written)
        f.content[page * PAGE:end] = data[:end - page * PAGE]
        f.history.append(f"WriteMemory page {page} +{len(data)} (written {resp.written})")
        if resp.written < len(data):
            f.certain = False

    def op_munmap(self):
        p, v = self._vma()
        if p is None:
            return self.op_mmap()
        p.vmas.remove(v)
        self.mm.call("rmap", "Munmap", rpb.MunmapRequest(pid=p.pid, addr=v[0], length=v[1]))

    def op_exit(self):
        live = [p for p in self.procs if p.alive]
        if not live:
            return self.op_mmap()
        p = self.rng.choice(live)
        p.alive = False
        self.mm.call("rmap", "Exit", rpb.ExitRequest(pid=p.pid))

    OPS = [("write", 14), ("fault", 14), ("write_memory", 10), ("mmap", 8), ("create", 6), ("fsync", 6),
           ("truncate", 6), ("punch", 5), ("reflink", 5), ("munmap", 6), ("unlink", 4), ("exit", 4), ("mkfs", 1)]

    def step(self, ready: threading.Event):
        names, weights = zip(*self.OPS)
        name = self.rng.choices(names, weights)[0]
        try:
            getattr(self, f"op_{name}")()
        except grpc.RpcError as exc:
            self.stats.fail(f"{name}:{exc.code().name}", exc.details())
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                ready.wait(120)   # pacing, not an assertion: do not spend the workload on a service being restarted


def _retry(fn, within: float = 120.0):
    """At the end, after the last kill: a service that is restarting answers UNAVAILABLE for a moment (on a
    loaded machine, seconds: ``within`` is a bound, not a timing). None for NOT_FOUND (the file or process
    is gone); any other status persisting is the test's failure."""
    deadline = time.monotonic() + within
    while True:
        try:
            return fn()
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _kill_and_restart(settings, name: str, ready: threading.Event) -> None:
    ready.clear()
    crash.kill9(settings, name)
    # stack.up starts whatever is missing (Redis on its --dir, or the one service) and waits for it. Not tied:
    # PR_SET_PDEATHSIG fires when the parent *thread* ends (this killer thread, before the checks at the end);
    # stack.down() stops them by their pid files.
    stack.up(settings, timeout=120, tied=False)
    if name == "redis":
        crash.wait_loaded(settings)
    ready.set()


def _page_report(mm: Cluster, settings, f: FileModel, page: int, got: bytes) -> None:
    """Diagnostics for a failure report only: what holds the first page that differs, and the last writes' traces."""
    r = _redis(settings)
    lo, hi = page * PAGE, (page + 1) * PAGE
    print(f"    page {page}: read values {sorted(set(got[lo:hi]))}, model values {sorted(set(f.content[lo:hi]))}")
    print("    inode:", {k.decode(): v.decode() for k, v in r.hgetall(keys.mapping(f.mapping, "inode")).items()})
    disk = r.hget(keys.mapping(f.mapping, "extents"), page)
    block = r.get(keys.fs(f.fs, f"blk:{int(disk)}")) if disk else None
    print(f"    file block {page} -> disk block {disk}; its values {sorted(set(block or b''))}")
    entry = _retry(lambda: mm.call("pagecache", "FindFolio", pcpb.FindFolioRequest(mapping=f.mapping, index=page)))
    print("    page cache:", str(entry).replace("\n", " "))
    if entry is not None and entry.found and not entry.zero_entry:
        mem = r.getrange(keys.node(entry.folio.node, f"mem:{entry.folio.pfn}"),
                         (page - entry.folio_index) * PAGE, (page - entry.folio_index + 1) * PAGE - 1)
        print(f"    folio memory at the page: values {sorted(set(mem))} ({len(mem)} bytes stored)")
    for trace_id in f.traces[-3:]:
        try:
            print(mm.trace(trace_id, timeout=5).render())
        except Exception as exc:   # noqa: BLE001 - a report, not an assertion
            print(f"    trace {trace_id}: {exc}")


def _caching_inodes(settings) -> list[dict]:
    """Diagnostics for a failure report only: the inodes whose page cache still holds pages."""
    r = _redis(settings)
    out = []
    for m in sorted(x.decode() for x in r.smembers(keys.cluster("mappings"))):
        inode = {k.decode(): v.decode() for k, v in r.hgetall(keys.mapping(m, "inode")).items()}
        if int(inode.get("nrpages", 0)):
            out.append({"mapping": m, **inode})
    return out


def _victim(victims: random.Random, kills: list[str]) -> str:
    return "redis" if len(kills) + 1 == REDIS_KILL else victims.choice(VICTIMS)




@pytest.mark.timeout(1200)   # 2,000 operations, 10 restarts: 2-4 min here, several times that on a loaded machine
def test_chaos_kills_lose_no_page_and_no_fsynced_byte(mm, chaos_settings):
    seed = int(os.environ.get("MMSIM_CHAOS_SEED", random.randrange(1 << 32)))
    print(f"\nchaos seed {seed} (MMSIM_CHAOS_SEED={seed} reproduces the schedule)")
    rng = random.Random(seed)
    assert mm.recover(older_than_ms=1) >= 0
    before = mm.check()
    assert before.ok, [v.to_dict() for v in before.violations]
    free_before = mm.vmstat()["nr_free_pages"]
    stats = Stats()
    workers = [Worker(mm, random.Random(rng.randrange(1 << 32)), stats, f"w{i}") for i in range(THREADS)]
    victims = random.Random(rng.randrange(1 << 32))
    done = threading.Event()
    counter = {"n": 0}
    counter_lock = threading.Lock()
    kill_due = threading.Semaphore(0)
    ready = threading.Event()
    ready.set()
    killer_errors: list[BaseException] = []
    worker_errors: list[BaseException] = []

    def run(w: Worker):
        try:
            w.op_mkfs()
            while True:
                with counter_lock:
                    if counter["n"] >= OPERATIONS:
                        return
                    counter["n"] += 1
                    if counter["n"] % KILL_EVERY == 0:
                        kill_due.release()
                w.step(ready)
        except BaseException as exc:  # noqa: BLE001 - a worker that dies fails the test, not a warning
            worker_errors.append(exc)

    def killer():
        try:
            while not done.is_set():
                if kill_due.acquire(timeout=0.2):
                    name = _victim(victims, stats.kills)
                    _kill_and_restart(chaos_settings, name, ready)
                    stats.kills.append(name)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            killer_errors.append(exc)
            ready.set()

    k = threading.Thread(target=killer)
    k.start()
    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    k.join()
    assert not killer_errors, killer_errors
    assert not worker_errors, worker_errors
    while kill_due.acquire(blocking=False):   # a kill due at the very end
        name = _victim(victims, stats.kills)
        _kill_and_restart(chaos_settings, name, ready)
        stats.kills.append(name)
    elapsed = time.monotonic() - started

    # every fsynced (and every other known) byte reads back
    verified = lost = 0
    for w in workers:
        for f in w.files:
            if f.linked and f.certain:
                got = _retry(lambda: mm.call("filesystem", "Read", fpb.ReadRequest(mapping=f.mapping, offset=0,
                                                                                    length=FILE_PAGES * PAGE * 2)))
                assert got is not None, f.mapping
                if got.data != bytes(f.content):
                    lost += 1
                    at = next((i for i, (a, b) in enumerate(zip(got.data, f.content)) if a != b),
                              min(len(got.data), len(f.content)))
                    print(f"  {f.mapping}: read {len(got.data)} bytes, model {len(f.content)}; first difference at "
                          f"byte {at}; history: {f.history}")
                    _page_report(mm, chaos_settings, f, at // PAGE, got.data)
                verified += len(f.content) if f.fsynced else 0
    # tear everything down: exit every process, unlink every file
    for w in workers:
        for p in w.procs:
            _retry(lambda: mm.call("rmap", "Exit", rpb.ExitRequest(pid=p.pid)))
        for fs, path in [(f.fs, f.path) for f in w.files] + w.unknown:
            _retry(lambda: mm.call("filesystem", "Unlink", fpb.UnlinkRequest(fs=fs, path=path)))
    reclaimed = _retry(lambda: mm.recover(older_than_ms=1))   # nothing is in flight now: every entry is abandoned
    report = _retry(mm.check)
    free_after = mm.vmstat()["nr_free_pages"]
    held = report.owners.get("page_cache", 0) - before.owners.get("page_cache", 0)
    print(f"chaos: {counter['n']} operations by {THREADS} threads in {elapsed:.1f}s; kills {len(stats.kills)} "
          f"({', '.join(stats.kills)}); failed calls {sum(stats.failed.values())} {stats.failed}; in-flight pages "
          f"reclaimed {reclaimed}; violations {len(report.violations)}; pages leaked {free_before - free_after} "
          f"(held by the page cache of files left behind: {held}); files whose bytes differ from the model {lost}; "
          f"bytes of fsynced files verified {verified}")
    for code, details in sorted(stats.first.items()):
        if not code.endswith(":UNAVAILABLE"):
            print(f"  first {code}: {details}")
    for v in report.violations[:40]:
        print("  ", v.to_dict())
    if held:
        print("  inodes still caching pages:", _caching_inodes(chaos_settings))
    assert counter["n"] >= OPERATIONS and len(stats.kills) >= OPERATIONS // KILL_EVERY and "redis" in stats.kills
    # each worker's model is sequential: nothing it calls is missing unless a retry forgot what its first
    # attempt did (an Exit that released the pid, an Unlink that removed the name: mmsim.runtime.idempotency)
    not_found = {c: stats.first[c] for c in stats.failed if c.endswith(":NOT_FOUND")}
    assert not not_found, not_found
    assert [v.to_dict() for v in report.violations] == []
    # every page is free again: none is unowned, none is still in flight, no page cache, process page or caller
    # allocation is left
    for kind in ("in_flight", "page_cache", "anon", "caller", "vmalloc"):
        assert report.owners.get(kind, 0) == before.owners.get(kind, 0), (kind, report.owners)
    assert free_before - free_after == 0, f"{free_before - free_after} pages not back ({held} in page caches)"
    assert lost == 0
