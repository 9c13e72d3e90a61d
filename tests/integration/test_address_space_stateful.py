"""A hypothesis state machine over the address space against a real stack: spawn, mmap (shared and private),
munmap, mprotect (r, rw, PROT_NONE), fork, exit, and reads and writes through the page tables.

The model is what a program sees (after tools/testing/selftests/mm/cow.c): the bytes at the start of each page
(a shared mapping shows the file, a private one the file until it writes, then its own copy, inherited by a
fork child and private to each side after), and which accesses are refused (SIGSEGV: a store to a read-only
range, any access to PROT_NONE). After every step, against the stack itself: `mmsim check` holds (every
page's _mapcount equals the PTEs mapping it, every PMD-order folio's _entire_mapcount the PMDs mapping it,
_refcount covers them), and for every mapped page the rmap walk (i_mmap, anon_vma) finds exactly the
(process, address) pairs whose PTEs map it plus the PMDs that map its folio (at the PMD's address),
FolioMapcount's per-process counts agree and page_mapcount() = its PTEs + its folio's PMDs.
A second file is one order-9 folio (2 MiB written in one call): a whole-file mapping is PMD-aligned
(__thp_get_unmapped_area), so its faults map it by one PMD (do_set_pmd) and munmap, mprotect, fork and COW
writes split or zap that PMD. Bounded in `make test` (MMSIM_AS_EXAMPLES x MMSIM_AS_STEPS), larger in `make soak`.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mmsim.client import PAGE_SIZE
from mmsim.rmap.lua import PTE_ZERO
from mmsim.runtime import keys
from mmsim.runtime.vmfault import VmFault

PAGES = 8
HUGE = 512   # pages of the order-9 file
TAG = 8   # bytes modelled at the start of each page
EXAMPLES = int(os.environ.get("MMSIM_AS_EXAMPLES", "6"))     # make soak: 40
STEPS = int(os.environ.get("MMSIM_AS_STEPS", "15"))           # make soak: 25


@dataclass
class Page:
    shared: bool
    index: int      # file page
    prot: str       # "", "r" or "rw"
    huge: bool = False   # a page of the order-9 file


@dataclass
class Proc:
    handle: object
    pages: dict[int, Page] = field(default_factory=dict)     # vpn -> what is mapped there
    anon: dict[int, bytes] = field(default_factory=dict)     # vpn -> the private copy's first TAG bytes


@pytest.mark.timeout(1800)   # make soak's size; make test's takes well under a minute
def test_address_space_state_machine(mm, stack_settings):
    fs = mm.mkfs("assm", profile="linux-6.12")
    f = fs.create("/data")
    initial = b"".join(f"page{i:04d}".encode().ljust(PAGE_SIZE, b".") for i in range(PAGES))
    g = fs.create("/thp")
    huge_initial = b"".join(f"huge{i:04d}".encode().ljust(PAGE_SIZE, b".") for i in range(HUGE))
    r = redis.Redis.from_url(stack_settings.redis_url)
    tags = itertools.count()
    pmd_faults = mm.vmstat().get("thp_file_mapped", 0)

    class AddressSpace(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.procs: dict[int, Proc] = {}
            f.write(0, initial)            # every example starts from the same files (the stack outlives them)
            g.write(0, huge_initial)       # one call: one order-9 folio
            self.file = {i: f"page{i:04d}".encode() for i in range(PAGES)}
            self.huge = {i: f"huge{i:04d}".encode() for i in range(HUGE)}

        def _proc(self, data, need_pages=False) -> Proc:
            pids = sorted(pid for pid, p in self.procs.items() if p.pages or not need_pages)
            return self.procs[data.draw(st.sampled_from(pids))]

        def _any_pages(self):
            return any(p.pages for p in self.procs.values())

        def _model(self, page: Page) -> dict[int, bytes]:
            return self.huge if page.huge else self.file

        def _expected(self, p: Proc, vpn: int) -> bytes:
            return p.anon.get(vpn, self._model(p.pages[vpn])[p.pages[vpn].index])

        @precondition(lambda self: len(self.procs) < 4)
        @rule()
        def spawn(self):
            h = mm.spawn("as")
            self.procs[h.pid] = Proc(h)

        @precondition(lambda self: self.procs)
        @rule(data=st.data(), shared=st.booleans(), first=st.integers(0, PAGES - 1), n=st.integers(1, 4),
              prot=st.sampled_from(["r", "rw"]), huge=st.booleans())
        def mmap(self, data, shared, first, n, prot, huge):
            """A few pages of either file (of the order-9 one: PTE-mapped, the VMA is too small for a PMD)."""
            p = self._proc(data)
            n = min(n, PAGES - first)
            v = p.handle.mmap(g if huge else f, n * PAGE_SIZE, prot, shared=shared, offset=first * PAGE_SIZE)
            for i in range(n):
                p.pages[v.start // PAGE_SIZE + i] = Page(shared, first + i, prot, huge)

        @precondition(lambda self: self.procs)
        @rule(data=st.data(), shared=st.booleans(), prot=st.sampled_from(["r", "rw"]))
        def mmap_huge(self, data, shared, prot):
            """The whole order-9 file: 2 MiB aligned, so its faults map the folio by one PMD."""
            p = self._proc(data)
            v = p.handle.mmap(g, HUGE * PAGE_SIZE, prot, shared=shared)
            assert v.start % (HUGE * PAGE_SIZE) == 0
            for i in range(HUGE):
                p.pages[v.start // PAGE_SIZE + i] = Page(shared, i, prot, True)

        @precondition(_any_pages)
        @rule(data=st.data(), n=st.integers(1, 3))
        def munmap(self, data, n):
            p = self._proc(data, True)
            vpn = data.draw(st.sampled_from(sorted(p.pages)))
            p.handle.munmap(vpn * PAGE_SIZE, n * PAGE_SIZE)
            for v in range(vpn, vpn + n):
                p.pages.pop(v, None)
                p.anon.pop(v, None)

        def _huge_starts(self):
            return [(pid, v) for pid, p in sorted(self.procs.items()) for v, g in sorted(p.pages.items())
                    if g.huge and g.index == 0 and v % HUGE == 0 and v + HUGE - 1 in p.pages]

        @precondition(lambda self: self._huge_starts())
        @rule(data=st.data())
        def munmap_huge(self, data):
            """munmap of the 2 MiB a PMD may map: zap_huge_pmd, no split."""
            pid, vpn = data.draw(st.sampled_from(self._huge_starts()))
            p = self.procs[pid]
            p.handle.munmap(vpn * PAGE_SIZE, HUGE * PAGE_SIZE)
            for v in range(vpn, vpn + HUGE):
                p.pages.pop(v, None)
                p.anon.pop(v, None)

        @precondition(_any_pages)
        @rule(data=st.data(), n=st.integers(1, 3), prot=st.sampled_from(["", "r", "rw"]))
        def mprotect(self, data, n, prot):
            p = self._proc(data, True)
            vpn = data.draw(st.sampled_from(sorted(p.pages)))
            n = next((k for k in range(1, n + 1) if vpn + k not in p.pages), n)   # stay inside mapped pages
            p.handle.mprotect(vpn * PAGE_SIZE, n * PAGE_SIZE, prot)
            for v in range(vpn, vpn + n):
                p.pages[v].prot = prot

        @precondition(lambda self: self.procs and len(self.procs) < 4)
        @rule(data=st.data())
        def fork(self, data):
            p = self._proc(data)
            child = p.handle.fork()
            self.procs[child.pid] = Proc(child, {v: Page(g.shared, g.index, g.prot, g.huge) for v, g in p.pages.items()},
                                         dict(p.anon))

        @precondition(lambda self: self.procs)
        @rule(data=st.data())
        def exit(self, data):
            p = self._proc(data)
            p.handle.exit()
            del self.procs[p.handle.pid]

        @precondition(_any_pages)
        @rule(data=st.data())
        def read(self, data):
            p = self._proc(data, True)
            vpn = data.draw(st.sampled_from(sorted(p.pages)))
            got = p.handle.read_memory(vpn * PAGE_SIZE, TAG)
            if p.pages[vpn].prot == "":
                assert got.vm_fault & VmFault.SIGSEGV and got.data == b""
            else:
                assert got.data == self._expected(p, vpn)

        @precondition(_any_pages)
        @rule(data=st.data())
        def write(self, data):
            p = self._proc(data, True)
            vpn = data.draw(st.sampled_from(sorted(p.pages)))
            tag = f"w{next(tags):07d}".encode()
            got = p.handle.write_memory(vpn * PAGE_SIZE, tag)
            page = p.pages[vpn]
            if "w" not in page.prot:
                assert got.vm_fault & VmFault.SIGSEGV and got.written == 0
            elif page.shared:
                assert got.written == TAG
                self._model(page)[page.index] = tag
            else:
                assert got.written == TAG
                p.anon[vpn] = tag

        @invariant()
        def consistent(self):
            report = mm.check(max_violations=5)
            assert report.ok, [v.to_dict() for v in report.violations]
            mapped: dict[tuple[int, int], set[tuple[int, int]]] = {}
            heads: dict[tuple[int, int], int] = {}                  # (node, pfn) -> its folio's head
            pmds: dict[tuple[int, int], set[tuple[int, int]]] = {}  # (node, head) -> (pid, address) of PMDs
            for pid, p in self.procs.items():
                for vpn_raw, pte in r.hgetall(keys.mm(pid, "pte")).items():
                    vpn = int(vpn_raw)
                    pfn, head, _order, node, bits = (int(x) for x in pte.split(b":"))
                    assert vpn in p.pages, f"pid {pid} has a PTE at vpn {vpn:#x} outside its mappings"
                    if not bits & PTE_ZERO:
                        mapped.setdefault((node, pfn), set()).add((pid, vpn * PAGE_SIZE))
                        heads[(node, pfn)] = head
                for idx_raw, pmd in r.hgetall(keys.mm(pid, "pmd")).items():
                    vpn = int(idx_raw) * HUGE
                    _pfn, head, _order, node, _bits = (int(x) for x in pmd.split(b":"))
                    assert all(v in p.pages for v in range(vpn, vpn + HUGE)), f"pid {pid}'s PMD at {vpn:#x} outside"
                    pmds.setdefault((node, head), set()).add((pid, vpn * PAGE_SIZE))
                    for k in (0, 1, HUGE - 1):   # a few pages of the folio, whatever else maps them
                        heads[(node, head + k)] = head
                        mapped.setdefault((node, head + k), set())
                assert p.handle.status().map_count == len(p.handle.maps())
            for (node, pfn), ptes in mapped.items():
                want = ptes | pmds.get((node, heads[(node, pfn)]), set())
                walk = mm.rmap.rmap_walk(pfn, node)
                assert {(m.pid, m.address) for m in walk.mappings} == want and walk.ptes == len(want)
                mc = mm.rmap.folio_mapcount(pfn, node)
                assert mc.per_process == dict(Counter(pid for pid, _ in want))
                assert mc.page_mapcount == len(want)   # PTEs of the page + PMDs of its folio

        def teardown(self):
            for p in self.procs.values():
                p.handle.exit()

    AddressSpace.TestCase.settings = settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, derandomize=True, print_blob=True,
        suppress_health_check=list(HealthCheck))
    AddressSpace.TestCase().runTest()
    assert mm.check().ok
    assert mm.vmstat().get("thp_file_mapped", 0) > pmd_faults, "no fault mapped the order-9 folio by a PMD"
    g.unlink()
