"""A hypothesis state machine over the reverse map: spawn (single and bulk runs), mmap, munmap, read and write
faults (shared and private: COW), MapMany, get_user_pages pins and exit, against a real stack. After every step
`mmsim check` holds (every page's _mapcount equals the PTEs and counted runs mapping it, _refcount covers them,
the page cache and the pins), and the rmap's view of the bulk-mapped page (FolioMapcount: folio_mapcount and who
maps it, found through the file's i_mmap) is exactly the model's. Derandomised, bounded for `make test`."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mmsim.client import PAGE_SIZE

PAGES = 8


def test_reverse_map_state_machine(mm):
    fs = mm.mkfs("rmapsm", profile="linux-6.12")
    data_file = fs.create("/data")
    data_file.write(0, bytes(range(256)) * (PAGES * PAGE_SIZE // 256))
    bulk = fs.create("/bulk")
    bulk.write(0, b"b" * PAGE_SIZE)
    holder = mm.spawn("holder")                 # keeps the bulk page cached and mapped once
    hv = holder.mmap(bulk, PAGE_SIZE, "r")
    bulk_pfn = holder.fault(hv.start).pfn

    class ReverseMapMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.procs = {}        # pid -> (Process, [Vma])
            self.bulk = {}         # pid -> (tasks, VMAs per task) mapped by MapMany

        @rule(tasks=st.sampled_from([1, 1, 3]))
        def spawn(self, tasks):
            p = mm.spawn("sm", mapcount_action="none", count=tasks)
            self.procs[p.pid] = (p, [])
            self.bulk[p.pid] = (tasks, 0)

        @precondition(lambda self: self.procs)
        @rule(data=st.data(), shared=st.booleans(), first=st.integers(0, PAGES - 1), n=st.integers(1, 4))
        def mmap(self, data, shared, first, n):
            pid = data.draw(st.sampled_from(sorted(self.procs)))
            p, vmas = self.procs[pid]
            n = min(n, PAGES - first)
            vmas.append(p.mmap(data_file, n * PAGE_SIZE, "rw", shared=shared, offset=first * PAGE_SIZE))

        @precondition(lambda self: any(v for _, v in self.procs.values()))
        @rule(data=st.data(), write=st.booleans(), page=st.integers(0, 3))
        def fault(self, data, write, page):
            pid = data.draw(st.sampled_from(sorted(p for p, (_, v) in self.procs.items() if v)))
            p, vmas = self.procs[pid]
            v = data.draw(st.sampled_from(vmas))
            p.fault(v.start + min(page, v.length // PAGE_SIZE - 1) * PAGE_SIZE, write=write)

        @precondition(lambda self: any(v for _, v in self.procs.values()))
        @rule(data=st.data())
        def munmap(self, data):
            pid = data.draw(st.sampled_from(sorted(p for p, (_, v) in self.procs.items() if v)))
            p, vmas = self.procs[pid]
            v = vmas.pop(data.draw(st.integers(0, len(vmas) - 1)))
            p.munmap(v)

        @precondition(lambda self: self.procs)
        @rule(data=st.data(), n=st.integers(1, 50))
        def map_many(self, data, n):
            pid = data.draw(st.sampled_from(sorted(self.procs)))
            r = self.procs[pid][0].map_many(bulk, 0, n)
            tasks, had = self.bulk[pid]
            assert r.tasks == tasks and r.mappings == n * tasks and r.killed == 0
            self.bulk[pid] = (tasks, had + n)

        @precondition(lambda self: any(v for _, v in self.procs.values()))
        @rule(data=st.data(), count=st.integers(1, 1000))
        def pin(self, data, count):
            pid = data.draw(st.sampled_from(sorted(p for p, (_, v) in self.procs.items() if v)))
            p, vmas = self.procs[pid]
            p.fault(vmas[0].start)
            assert p.pin_pages(vmas[0].start, count).pinned == count

        @precondition(lambda self: self.procs)
        @rule(data=st.data())
        def exit(self, data):
            pid = data.draw(st.sampled_from(sorted(self.procs)))
            self.procs.pop(pid)[0].exit()
            self.bulk.pop(pid)

        @invariant()
        def consistent(self):
            report = mm.check(max_violations=5)
            assert report.ok, [v.to_dict() for v in report.violations]
            st_ = mm.rmap.folio_mapcount(bulk_pfn)
            want = {pid: n for pid, (_, n) in self.bulk.items() if n}
            assert st_.folio_mapcount == 1 + sum(t * n for t, n in self.bulk.values())
            assert {pid: c for pid, c in st_.per_process.items() if pid != holder.pid} == want
            walk = mm.rmap.rmap_walk(bulk_pfn)        # i_mmap: the holder's PTE and one entry per run
            assert walk.ptes == st_.folio_mapcount
            runs: dict[int, int] = {}
            for m in walk.mappings:
                if m.kind == "run":
                    runs[m.pid] = runs.get(m.pid, 0) + m.vmas
            assert runs == want and [(m.pid, m.kind) for m in walk.mappings if m.kind != "run"] == [(holder.pid, "file")]

        def teardown(self):
            for p, _ in self.procs.values():
                p.exit()


    ReverseMapMachine.TestCase.settings = settings(
        max_examples=3, stateful_step_count=6, deadline=None, derandomize=True, print_blob=True,
        suppress_health_check=list(HealthCheck))
    ReverseMapMachine.TestCase().runTest()
    holder.exit()
    assert mm.check().ok


def test_rmap_walk_finds_file_and_anon_mappings(mm):
    f = mm.mkfs("rmapwalk", profile="linux-6.12").create("/f")
    f.write(0, b"w" * PAGE_SIZE)
    a, b = mm.spawn("a"), mm.spawn("b")
    va, vb = a.mmap(f, PAGE_SIZE, "r"), b.mmap(f, PAGE_SIZE, "rw", shared=False)
    pfn = a.fault(va.start).pfn
    assert b.fault(vb.start).pfn == pfn
    walk = mm.rmap.rmap_walk(pfn)
    assert sorted((m.pid, m.address, m.kind) for m in walk.mappings) == sorted(
        [(a.pid, va.start, "file"), (b.pid, vb.start, "file")]) and walk.ptes == 2
    cow = b.fault(vb.start, write=True)            # do_wp_page: b's PTE now maps its anonymous copy
    assert cow.pfn != pfn
    assert [(m.pid, m.kind) for m in mm.rmap.rmap_walk(pfn).mappings] == [(a.pid, "file")]
    anon = mm.rmap.rmap_walk(cow.pfn, cow.folio_node)
    assert [(m.pid, m.address, m.kind) for m in anon.mappings] == [(b.pid, vb.start, "anon")]
    a.exit(), b.exit()
    assert mm.rmap.rmap_walk(pfn).mappings == []
