"""Hypothesis state machine for PFN entries: two files share folios (ShareFolios), copy them on write
(replace_shared), and are truncated and invalidated in any order. After every step each file's lookups
match the model and each folio's _refcount equals the number of page caches holding it (its ->mapping
being the shared marker exactly when that is two); at the end every folio goes back to the allocator
exactly once: nothing leaks, nothing is freed twice.
"""

from __future__ import annotations

import asyncio
import uuid

from mmsim.runtime.redis_client import connect as connect_redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from mmsim.allocator.allocator import AllocatorService
from mmsim.allocator.vmemmap import MAPPING_SHARED
from mmsim.pagecache.filemap import Folio, PageCache
from mmsim.runtime import config, keys
from mmsim.runtime.errors import AlreadyExists, NotFound

PAGES = 32
REDIS_URL: str | None = None
SETTINGS = config.Settings(memory_bytes=64 << 20)
FILES = st.sampled_from(["a", "b"])


class SharingMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.client = connect_redis(REDIS_URL)
        self.model = {"a": {}, "b": {}}      # file -> first page -> folio
        self.live: set[int] = set()          # pfns allocated and not yet freed

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    @initialize()
    def setup(self):
        tag = uuid.uuid4().hex[:10]
        self.maps = {f: f"share{tag}/{f}" for f in "ab"}
        for m in self.maps.values():
            self.run(self.client.hset(keys.mapping(m, "inode"), mapping={"i_size": PAGES * 4096, "profile": "lsfmm2018"}))
        self.svc = self.run(AllocatorService.open(self.client, SETTINGS))
        self.pc = PageCache(self.client, SETTINGS)

    def _alloc(self, order: int) -> Folio:
        got = self.run(self.svc.alloc_pages(order, "GFP_HIGHUSER_MOVABLE|__GFP_COMP"))
        self.live.add(got.pfn)
        return Folio(got.nid, got.pfn, got.order)

    def _free(self, folios) -> None:
        for f in folios:
            assert f.pfn in self.live, f"freed twice or never allocated: {f}"
            self.run(self.svc.free_pages(f.pfn, f.order))
            self.live.discard(f.pfn)

    def _covering(self, file: str, page: int):
        return next(((first, f) for first, f in self.model[file].items() if first <= page < first + (1 << f.order)), None)

    @rule(file=FILES, slot=st.integers(0, PAGES - 1), order=st.integers(0, 3))
    def add(self, file, slot, order):
        first = slot & ~((1 << order) - 1)
        folio = self._alloc(order)
        if any(self._covering(file, p) for p in range(first, first + (1 << order))):
            try:
                self.run(self.pc.add_folio(self.maps[file], first, folio))
                raise AssertionError("an overlapping add must be refused")
            except AlreadyExists:
                self._free([folio])
            return
        self.run(self.pc.add_folio(self.maps[file], first, folio))
        self.model[file][first] = folio

    @rule(src=FILES)
    def share(self, src):
        dst = "b" if src == "a" else "a"
        stats = self.run(self.pc.share_folios(self.maps[src], 0, self.maps[dst], 0, PAGES))
        shared = 0
        for first, folio in list(self.model[src].items()):
            if not any(self._covering(dst, p) for p in range(first, first + (1 << folio.order))):
                self.model[dst][first] = folio
                shared += 1
        assert stats["folios_shared"] == shared

    @rule(file=FILES, page=st.integers(0, PAGES - 1))
    def unshare(self, file, page):
        hit = self._covering(file, page)
        if hit is None:
            return
        first, old = hit
        other = "b" if file == "a" else "a"
        if self.model[other].get(first) != old:
            return                            # not shared: nothing to copy
        new = self._alloc(old.order)
        done = self.run(self.pc.replace_shared(self.maps[file], page, old, new))
        assert done is not None and done[1] == []     # the other file still holds the old folio
        self.model[file][first] = new

    @rule(file=FILES, page=st.integers(0, PAGES))
    def truncate(self, file, page):
        res = self.run(self.pc.truncate_range(self.maps[file], page * 4096, None))
        held_elsewhere = set(self.model["b" if file == "a" else "a"].values())
        for first, folio in list(self.model[file].items()):
            if first + (1 << folio.order) <= page:
                continue
            del self.model[file][first]
            if first < page and folio not in held_elsewhere:
                # split to order 0 (a shared folio refuses: -EBUSY, and goes whole: it is clean)
                for p in range(first, first + (1 << folio.order)):
                    piece = Folio(folio.node, folio.pfn + p - first, 0)
                    self.live.add(piece.pfn)
                    if p < page:
                        self.model[file][p] = piece
        self._free(res.freed)

    @rule(file=FILES)
    def invalidate(self, file):
        _, _, freed = self.run(self.pc.invalidate(self.maps[file]))
        held_elsewhere = set(self.model["b" if file == "a" else "a"].values())
        for first, folio in list(self.model[file].items()):
            if folio not in held_elsewhere:            # a shared folio has refcount 2: busy, it stays
                del self.model[file][first]
        self._free(freed)

    @invariant()
    def caches_and_counts_match(self):
        if not hasattr(self, "pc"):
            return
        for file in "ab":
            for page in range(PAGES):
                hit = self._covering(file, page)
                try:
                    found = self.run(self.pc.find_folio(self.maps[file], page))
                except NotFound:
                    assert hit is None, (file, page, hit)
                    continue
                assert hit is not None and found.folio == hit[1], (file, page, found, hit)
        holders: dict[Folio, int] = {}
        for file in "ab":
            for folio in self.model[file].values():
                holders[folio] = holders.get(folio, 0) + 1
        for folio, n in holders.items():
            page = self.run(self.svc.get_page(folio.pfn))
            assert page.refcount == n, (folio, page.refcount, n)
            shares = page.words[3] if page.words[2] == MAPPING_SHARED else 1   # ->index is the share count
            assert shares == n, (folio, page.words, n)

    def teardown(self):
        if hasattr(self, "pc"):
            for file in "ab":
                self._free(self.run(self.pc.truncate_range(self.maps[file], 0, None)).freed)
            assert not self.live, f"leaked: {sorted(self.live)}"
        self.run(self.client.aclose())
        self.loop.close()


def test_pfn_entries_against_a_model(redis_proc, redis_client):   # redis_client: a flushed database
    global REDIS_URL
    REDIS_URL = redis_proc.url
    run_state_machine_as_test(
        SharingMachine,
        settings=settings(max_examples=25, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
