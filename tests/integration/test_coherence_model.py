"""Issue 9: the file, the page cache and every mapping never disagree (a bytes-model property test).

A hypothesis state machine drives one real stack (a new filesystem per example) with write, truncate (down
and up), punch hole, reflink, fsync, fadvise DONTNEED, WriteMemory through shared and private mappings of
several processes, read and write faults, racing faults, munmap, exit and unlink, against a simple model:
each file's bytes (its length is i_size) and, per private mapping, the pages it has copied on write.

After every step: read() of every file and ReadMemory of every live mapping equal the model (a page past EOF
is SIGBUS); no page-cache entry lies past EOF (rounded up to a block); every file PTE maps a folio that is in
the page cache (the processes' rss_file equals the PTEs of the cached folios), every private copy is
counted in rss_anon. At the end of each example: a cold re-read (fsync, DONTNEED, read) agrees, and after
exit and unlink nr_free_pages is back where it started; splits reported by truncate and hole punch moved the
per-size ``split`` counters.

Six configurations: block sizes 4K/16K/64K in the lsfmm2018 and linux-6.12 profiles. The example count
(MMSIM_MODEL_EXAMPLES, default 200) and shrinking (MMSIM_MODEL_SHRINK=1) are read in conftest; the seed is
fixed per configuration and printed.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test, initialize, invariant, precondition, rule

from coherence import cache_entries, issue, mapped_file_ptes, page_view, pages_of
from mmsim.client import PAGE_SIZE, Cluster
from mmsim.v1 import common_pb2, filesystem_pb2, page_cache_pb2, reverse_map_pb2

CONFIGS = [(bs, prof) for prof in ("lsfmm2018", "linux-6.12") for bs in (4096, 16384, 65536)]
MAX_PROCS, MAX_MAPS, RACERS = 3, 2, 8
POOL = ThreadPoolExecutor(RACERS)


class FileModel:
    def __init__(self, f, name: str):
        self.f, self.name, self.data, self.linked = f, name, bytearray(), True

    @property
    def mapping(self) -> str:
        return self.f.mapping


class MapModel:
    def __init__(self, proc, vma, file: FileModel, shared: bool):
        self.proc, self.vma, self.file, self.shared = proc, vma, file, shared
        self.cow: dict[int, bytes] = {}    # private copies: page index -> the page's bytes

    def view(self) -> bytes:
        """The bytes this mapping reads, page by page up to the file's EOF page."""
        out = bytearray(page_view(self.file.data))
        for idx, page in self.cow.items():
            if idx < pages_of(len(self.file.data)):
                out[idx * PAGE_SIZE:(idx + 1) * PAGE_SIZE] = page
        return bytes(out)


class CoherenceMachine(RuleBasedStateMachine):
    """Subclassed per configuration by ``machine_for`` (MM, BLOCK, PROFILE are set there)."""

    MM: Cluster
    BLOCK = 4096
    PROFILE = "lsfmm2018"

    def __init__(self):
        super().__init__()
        self.mm, self.bs = self.MM, self.BLOCK
        self.maxlen = max(16 * PAGE_SIZE, 4 * self.bs)
        self.files: list[FileModel] = []
        self.procs: dict[int, tuple] = {}     # pid -> (Process, [MapModel])
        self.tick, self.created = 0, 0
        self.split_reported = 0
        self.clean = True                     # no step has failed (teardown checks only then)

    # ---------------------------------------------------------------------------------------- helpers
    def _fill(self, n: int) -> bytes:
        self.tick += 1
        return bytes([1 + self.tick % 255]) * n

    def _create(self) -> FileModel:
        self.created += 1
        name = f"/f{self.created}"
        fm = FileModel(self.fs.create(name), name)
        self.files.append(fm)
        return fm

    def linked(self) -> list[FileModel]:
        return [f for f in self.files if f.linked]

    def maps(self) -> list[MapModel]:
        return [m for _, ms in self.procs.values() for m in ms]

    def _forget_unmapped_orphans(self) -> None:
        mapped = {id(m.file) for m in self.maps()}
        self.files = [f for f in self.files if f.linked or id(f) in mapped]

    def _pick(self, data, items, label):
        return items[data.draw(st.integers(0, len(items) - 1), label=label)]

    def thp_stats(self) -> dict[int, dict[str, int]]:
        return {size: c.to_dict() for size, c in self.mm.thp_stats().per_size.items()}

    # ---------------------------------------------------------------------------------------- setup
    @initialize(data=st.data())
    def setup(self, data):
        self.clean = False
        self.free_before = self.mm.vmstat()["nr_free_pages"]
        self.thp_before = self.thp_stats()
        self.fsname = "m" + secrets.token_hex(5)
        self.fs = self.mm.mkfs(self.fsname, block_size=self.bs, profile=self.PROFILE)
        a, _ = self._create(), self._create()
        size = data.draw(st.integers(0, self.maxlen), label="initial size of f1")
        if size:
            a.data[:] = self._fill(size)
            a.f.write(0, bytes(a.data))
            a.f.fsync()
            a.f.fadvise_dontneed()          # a cold cache: faults populate (large folios by readahead)
        proc = self.mm.spawn("m0")
        shared = data.draw(st.booleans(), label="f1 mapped shared by process m0")
        self.procs[proc.pid] = (proc, [MapModel(proc, proc.mmap(a.f, self.maxlen, prot="rw", shared=shared), a, shared)])

    # ---------------------------------------------------------------------------------------- file ops
    @precondition(lambda self: self.linked())
    @rule(data=st.data())
    def write(self, data):
        self.clean = False
        fm = self._pick(data, self.linked(), "file")
        off = data.draw(st.integers(0, self.maxlen - 1), label="offset")
        n = data.draw(st.integers(1, min(self.maxlen - off, 3 * self.bs)), label="length")
        buf = self._fill(n)
        fm.f.write(off, buf)
        if off > len(fm.data):
            fm.data.extend(bytes(off - len(fm.data)))
        fm.data[off:off + n] = buf

    @precondition(lambda self: self.linked())
    @rule(data=st.data())
    def truncate(self, data):
        self.clean = False
        fm = self._pick(data, self.linked(), "file")
        size = data.draw(st.integers(0, self.maxlen), label="size")
        r = fm.f.truncate(size)
        self.split_reported += r.folios_split
        del fm.data[size:]
        fm.data.extend(bytes(size - len(fm.data)))
        for m in self.maps():               # truncate_pagecache: even_cows from round_up(size, PAGE_SIZE)
            if m.file is fm:
                m.cow = {i: p for i, p in m.cow.items() if i < pages_of(size)}

    @precondition(lambda self: any(f.data for f in self.linked()))
    @rule(data=st.data())
    def punch_hole(self, data):
        self.clean = False
        fm = self._pick(data, [f for f in self.linked() if f.data], "file")
        off = data.draw(st.integers(0, len(fm.data) - 1), label="offset")
        n = data.draw(st.integers(1, len(fm.data) - off), label="length")
        r = self.mm.call("filesystem", "PunchHole", filesystem_pb2.PunchHoleRequest(mapping=fm.mapping, offset=off, length=n))
        self.split_reported += r.folios_split
        fm.data[off:off + n] = bytes(n)

    @precondition(lambda self: any(len(f.data) >= self.bs for f in self.linked()) and len(self.linked()) >= 2)
    @rule(data=st.data())
    def reflink(self, data):
        self.clean = False
        src = self._pick(data, [f for f in self.linked() if len(f.data) >= self.bs], "src")
        dst = self._pick(data, [f for f in self.linked() if f is not src], "dst")
        blocks = len(src.data) // self.bs
        s = data.draw(st.integers(0, blocks - 1), label="src block")
        k = data.draw(st.integers(1, blocks - s), label="blocks")
        d = data.draw(st.integers(0, self.maxlen // self.bs - k), label="dst block")
        so, do, n = s * self.bs, d * self.bs, k * self.bs
        src.f.reflink(dst.f, so, do, n)
        if do > len(dst.data):
            dst.data.extend(bytes(do - len(dst.data)))
        dst.data[do:do + n] = src.data[so:so + n]

    @precondition(lambda self: self.linked())
    @rule(data=st.data(), fsync=st.booleans(), dontneed=st.booleans())
    def writeback(self, data, fsync, dontneed):
        """fsync and/or posix_fadvise(DONTNEED) (both: the next read comes from the blocks)."""
        self.clean = False
        fm = self._pick(data, self.linked(), "file")
        if fsync:
            fm.f.fsync()
        if dontneed or not fsync:
            fm.f.fadvise_dontneed()

    @precondition(lambda self: self.linked())
    @rule(data=st.data())
    def unlink(self, data):
        self.clean = False
        fm = self._pick(data, self.linked(), "file")
        self.mm.call("filesystem", "Unlink", filesystem_pb2.UnlinkRequest(fs=self.fsname, path=fm.name))
        fm.linked = False
        self._forget_unmapped_orphans()

    @precondition(lambda self: len(self.linked()) < 2)
    @rule()
    def create(self):
        self.clean = False
        self._create()

    # ---------------------------------------------------------------------------------------- processes
    @precondition(lambda self: self.linked() and (len(self.procs) < MAX_PROCS
                                                  or any(len(ms) < MAX_MAPS for _, ms in self.procs.values())))
    @rule(data=st.data(), shared=st.booleans())
    def mmap(self, data, shared):
        """mmap a file in a process that has room for another mapping, or in a new one."""
        self.clean = False
        room = [v for v in self.procs.values() if len(v[1]) < MAX_MAPS]
        if len(self.procs) < MAX_PROCS:
            room.append(None)
        if (picked := self._pick(data, room, "process (last: a new one)")) is None:
            proc = self.mm.spawn(f"m{len(self.procs)}")
            picked = self.procs[proc.pid] = (proc, [])
        proc, ms = picked
        fm = self._pick(data, self.linked(), "file")
        ms.append(MapModel(proc, proc.mmap(fm.f, self.maxlen, prot="rw", shared=shared), fm, shared))

    @precondition(lambda self: self.maps())
    @rule(data=st.data())
    def munmap(self, data):
        self.clean = False
        m = self._pick(data, self.maps(), "mapping")
        m.proc.munmap(m.vma.start, m.vma.length)
        self.procs[m.proc.pid][1].remove(m)
        self._forget_unmapped_orphans()

    @precondition(lambda self: self.procs)
    @rule(data=st.data())
    def exit(self, data):
        self.clean = False
        pid = self._pick(data, sorted(self.procs), "pid")
        self.mm.call("rmap", "Exit", reverse_map_pb2.ExitRequest(pid=pid))
        del self.procs[pid]
        self._forget_unmapped_orphans()

    @precondition(lambda self: any(m.file.data for m in self.maps()))
    @rule(data=st.data())
    def write_memory(self, data):
        self.clean = False
        m = self._pick(data, [m for m in self.maps() if m.file.data], "mapping")
        size = len(m.file.data)
        page = data.draw(st.integers(0, pages_of(size) - 1), label="page")
        off = min(size - 1, page * PAGE_SIZE + data.draw(st.integers(0, PAGE_SIZE - 1), label="offset in the page"))
        n = data.draw(st.integers(1, min(size - off, 2 * PAGE_SIZE)), label="length")
        buf = self._fill(n)
        r = self.mm.call("rmap", "WriteMemory", reverse_map_pb2.WriteMemoryRequest(pid=m.proc.pid, address=m.vma.start + off, data=buf))
        assert r.written == n and not r.vm_fault, r
        if m.shared:
            m.file.data[off:off + n] = buf
            return
        view = m.view()
        for idx in range(off // PAGE_SIZE, pages_of(off + n)):
            page = bytearray(m.cow.get(idx, view[idx * PAGE_SIZE:(idx + 1) * PAGE_SIZE]))
            lo, hi = max(off, idx * PAGE_SIZE), min(off + n, (idx + 1) * PAGE_SIZE)
            page[lo - idx * PAGE_SIZE:hi - idx * PAGE_SIZE] = buf[lo - off:hi - off]
            m.cow[idx] = bytes(page)

    @precondition(lambda self: any(m.file.data for m in self.maps()))
    @rule(data=st.data(), write=st.booleans())
    def fault(self, data, write):
        self.clean = False
        m = self._pick(data, [m for m in self.maps() if m.file.data], "mapping")
        idx = data.draw(st.integers(0, pages_of(len(m.file.data)) - 1), label="page")
        r = m.proc.fault(m.vma.start + idx * PAGE_SIZE, write=write)
        assert r.ok, r
        if write and not m.shared and idx not in m.cow:
            m.cow[idx] = m.view()[idx * PAGE_SIZE:(idx + 1) * PAGE_SIZE]

    @precondition(lambda self: any(f.data for f in self.linked()))
    @rule(data=st.data())
    def racing_faults(self, data):
        """RACERS threads of a new process fault one address of a just-dropped file: every reply whose address
        ends up mapped says what is mapped there (the pfn the next, spurious fault finds)."""
        self.clean = False
        fm = self._pick(data, [f for f in self.linked() if f.data], "file")
        idx = data.draw(st.integers(0, pages_of(len(fm.data)) - 1), label="page")
        fm.f.fsync()
        fm.f.fadvise_dontneed()
        proc = self.mm.spawn("racer")
        try:
            addr = proc.mmap(fm.f, self.maxlen, prot="r").start + idx * PAGE_SIZE
            req = reverse_map_pb2.HandleFaultRequest(pid=proc.pid, address=addr)
            replies = list(POOL.map(lambda _: self.mm.call("rmap", "HandleFault", req), range(RACERS)))
            final = self.mm.call("rmap", "HandleFault", req)
            assert final.spurious, final
            for r in replies:
                assert (r.pfn, r.folio.pfn, r.zero_page) == (final.pfn, final.folio.pfn, final.zero_page), (r, final)
        finally:
            self.mm.call("rmap", "Exit", reverse_map_pb2.ExitRequest(pid=proc.pid))

    # ---------------------------------------------------------------------------------------- checks
    @invariant()
    def agrees_with_the_model(self):
        if not hasattr(self, "fs"):
            return
        self.clean = False
        linked, maps = self.linked(), self.maps()
        calls = [("filesystem", "Read", filesystem_pb2.ReadRequest(mapping=f.mapping, offset=0, length=self.maxlen + 1))
                 for f in linked]
        for m in maps:
            calls.append(("rmap", "ReadMemory", reverse_map_pb2.ReadMemoryRequest(
                pid=m.proc.pid, address=m.vma.start, length=pages_of(len(m.file.data)) * PAGE_SIZE)))
        beyond = [m for m in maps if pages_of(len(m.file.data)) * PAGE_SIZE < m.vma.length]
        for m in beyond:
            calls.append(("rmap", "ReadMemory", reverse_map_pb2.ReadMemoryRequest(
                pid=m.proc.pid, address=m.vma.start + pages_of(len(m.file.data)) * PAGE_SIZE, length=1)))
        replies = iter(issue(self.mm, calls))

        for f in linked:
            got = next(replies).data
            assert got == bytes(f.data), f"read() of {f.name} disagrees with the model: {_diff(got, f.data)}"
        for m in maps:
            r, want = next(replies), m.view()
            assert not r.vm_fault, f"ReadMemory of {m.file.name} ({'shared' if m.shared else 'private'}) faulted: {r}"
            assert r.data == want, (f"pid {m.proc.pid}'s {'shared' if m.shared else 'private'} mapping of {m.file.name} "
                                    f"disagrees with the model: {_diff(r.data, want)}")
        for m in beyond:
            r = next(replies)
            assert not r.data and common_pb2.VM_FAULT_SIGBUS in r.vm_fault, \
                f"the page past EOF of {m.file.name} is readable through pid {m.proc.pid}'s mapping: {r}"

        # after the reads (which fault): the page tables' counts and the cache, then the cached folios' PTEs
        pids = sorted(self.procs)
        status, entries = cache_entries(self.mm, [f.mapping for f in self.files], [
            ("rmap", "ProcStatus", reverse_map_pb2.ProcStatusRequest(pid=p)) for p in pids])
        ppb = self.bs // PAGE_SIZE
        folios = []
        for f in self.files:
            limit = -(-pages_of(len(f.data)) // ppb) * ppb
            for e in entries[f.mapping]:
                assert e.last < limit, (f"{f.name}: a page-cache entry {e} lies past EOF (i_size {len(f.data)}, "
                                        f"pages up to {limit} allowed)")
                if not e.zero:
                    folios.append(e)
        rss_file = sum(s.rss_file for s in status)
        ptes = mapped_file_ptes(self.mm, folios) if folios else 0
        assert rss_file == ptes, (f"the processes' rss_file is {rss_file} but {ptes} PTEs map the folios in the page "
                                  "cache: a PTE maps a folio that is not in the page cache, or a count is wrong")
        cows = sum(len(m.cow) for m in maps)
        assert sum(s.rss_anon for s in status) == cows, f"rss_anon {[s.rss_anon for s in status]} != {cows} private copies"
        self.clean = True

    def teardown(self):
        if not hasattr(self, "fs"):
            return
        if not self.clean:
            self._cleanup()
            return
        issue(self.mm, [("rmap", "Exit", reverse_map_pb2.ExitRequest(pid=pid)) for pid in self.procs])
        self.procs.clear()
        self._forget_unmapped_orphans()
        files = self.files
        assert all(f.linked for f in files), "orphans outlived their last mapping in the model"
        # a cold re-read: written back, dropped, read from the blocks alone
        issue(self.mm, [("filesystem", "Fsync", filesystem_pb2.FsyncRequest(mapping=f.mapping)) for f in files])
        issue(self.mm, [("pagecache", "InvalidateMapping", page_cache_pb2.InvalidateMappingRequest(mapping=f.mapping))
                        for f in files])
        reads = issue(self.mm, [("filesystem", "Read", filesystem_pb2.ReadRequest(
            mapping=f.mapping, offset=0, length=self.maxlen + 1)) for f in files])
        for f, got in zip(files, reads):
            assert got.data == bytes(f.data), f"cold re-read of {f.name} disagrees with the model: {_diff(got.data, f.data)}"
        issue(self.mm, [("filesystem", "Unlink", filesystem_pb2.UnlinkRequest(fs=self.fsname, path=f.name))
                        for f in files])
        free = self.mm.vmstat()["nr_free_pages"]
        assert free == self.free_before, (f"nr_free_pages {free} != {self.free_before} after exit and unlink: "
                                          f"{self.free_before - free} pages never went back to the buddy lists")
        after = self.thp_stats()
        moved = sum(after[k]["split"] - self.thp_before.get(k, {}).get("split", 0) for k in after)
        assert moved >= self.split_reported, f"{self.split_reported} splits reported, per-size split counters moved {moved}"

    def _cleanup(self) -> None:
        """After a failed step: free what can be freed, so later examples start from a quiet stack."""
        for pid in list(self.procs):
            _quietly(self.mm.call, "rmap", "Exit", reverse_map_pb2.ExitRequest(pid=pid))
        for f in self.files:
            if f.linked:
                _quietly(self.mm.call, "filesystem", "Unlink", filesystem_pb2.UnlinkRequest(fs=self.fsname, path=f.name))


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except grpc.RpcError:
        pass


def _diff(got: bytes, want: bytes | bytearray) -> str:
    if len(got) != len(want):
        return f"length {len(got)} != {len(want)}"
    i = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
    return f"first difference at byte {i} (page {i // PAGE_SIZE}): got {got[i:i + 8]!r}, want {bytes(want[i:i + 8])!r}"


def machine_for(mm: Cluster, block: int, profile: str, base: type = CoherenceMachine) -> type:
    return type(f"Coherence_{profile}_{block // 1024}K", (base,), {"MM": mm, "BLOCK": block, "PROFILE": profile})


def config_seed(block: int, profile: str) -> int:
    """The fixed seed of one configuration (printed, so a failure is reproducible with the same one)."""
    return block * 10 + (1 if profile == "linux-6.12" else 0)


def run_machine(machine: type, examples: int, seed_value: int, shrink: bool) -> None:
    print(f"\n{machine.__name__}: {examples} examples, seed {seed_value}, shrink {shrink}")
    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink else ())
    test = get_state_machine_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=12, deadline=None, database=None, phases=phases,
        suppress_health_check=list(HealthCheck), verbosity=Verbosity.normal, report_multiple_bugs=False))
    seed(seed_value)(test)()


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("block,profile", CONFIGS, ids=[f"{p}-{b // 1024}K" for b, p in CONFIGS])
def test_file_cache_and_mappings_agree_with_a_bytes_model(stack_settings, model_examples, model_shrink, block, profile):
    with Cluster.connect(stack_settings) as mm:
        run_machine(machine_for(mm, block, profile), model_examples, config_seed(block, profile), model_shrink)
