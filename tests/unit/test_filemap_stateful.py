"""Hypothesis state machine: the page cache (filemap over the XArray) against a page -> entry model.

Real folios from the buddy allocator are added as multi-order entries, as order-0 runs or as zero
entries, truncated and invalidated; after every step each page's lookup, nrpages, the zero-entry pages and
the entry counts must match the model, in the `multi-order` and `order-0` indexing modes and with small
XArray nodes (chunk shift 3) so that the tree grows and shrinks. Freed folios go back to the allocator,
which must accept them (refcount 1, no mapping, off the LRU).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from mmsim.runtime.redis_client import connect as connect_redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from mmsim.allocator.allocator import AllocatorService
from mmsim.pagecache.filemap import Folio, PageCache, Tag
from mmsim.runtime import config, keys
from mmsim.runtime.errors import AlreadyExists, NotFound

PAGES = 64
REDIS_URL: str | None = None
SETTINGS = config.Settings(memory_bytes=64 << 20, xa_chunk_shift=3)


class PageCacheMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.client = connect_redis(REDIS_URL)
        self.model: dict[int, tuple[str, int, int]] = {}   # page -> (kind, first page, order); kind folio|hole
        self.folios: dict[int, Folio] = {}                  # first page -> folio
        self.dirty: set[int] = set()                        # first pages of dirty folios

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def teardown(self):
        self.run(self.pc.truncate_range(self.mapping, 0, None))
        self.run(self.client.aclose())
        self.loop.close()

    @initialize(mode=st.sampled_from(["multi-order", "order-0"]))
    def setup(self, mode):
        self.mode = mode
        self.mapping = f"hyp/{uuid.uuid4().hex[:12]}"
        self.run(self.client.hset(keys.mapping(self.mapping, "inode"), mapping={"i_size": PAGES * 4096, "indexing": mode}))
        self.svc = self.run(AllocatorService.open(self.client, SETTINGS))
        self.pc = PageCache(self.client, SETTINGS)

    def _overlaps(self, first: int, order: int, kinds=("folio", "hole")) -> bool:
        return any(self.model.get(p, ("",))[0] in kinds for p in range(first, first + (1 << order)))

    @rule(slot=st.integers(0, PAGES - 1), order=st.integers(0, 4))
    def add_folio(self, slot, order):
        first = slot & ~((1 << order) - 1)
        if first + (1 << order) > PAGES:
            return
        got = self.run(self.svc.alloc_pages(order, "GFP_HIGHUSER_MOVABLE|__GFP_COMP"))
        folio = Folio(got.nid, got.pfn, got.order)
        if self._overlaps(first, order, ("folio",)):
            with pytest.raises(AlreadyExists):
                self.run(self.pc.add_folio(self.mapping, first, folio))
            self.run(self.svc.free_pages(folio.pfn, folio.order))
            return
        self.run(self.pc.add_folio(self.mapping, first, folio))
        last = first + (1 << order) - 1
        # the holes the folio lands in are split (fm_punch_hole_entry): what stays outside it is covered by holes
        # of the largest aligned orders
        for _, hs, ho in {self.model[p] for p in range(first, last + 1) if self.model.get(p, ("",))[0] == "hole"}:
            he = hs + (1 << ho) - 1
            for p in range(hs, he + 1):
                del self.model[p]
            self._holes(hs, first - 1)
            self._holes(last + 1, he)
        for p in range(first, last + 1):
            self.model[p] = ("folio", first, order)
        self.folios[first] = folio

    @rule(slot=st.integers(0, PAGES - 1), order=st.integers(0, 3))
    def add_zero(self, slot, order):
        first = slot & ~((1 << order) - 1)
        if self._overlaps(first, order):
            with pytest.raises(AlreadyExists):
                self.run(self.pc.add_zero_entry(self.mapping, first, order))
            return
        self.run(self.pc.add_zero_entry(self.mapping, first, order))
        for p in range(first, first + (1 << order)):
            # order-0 indexing stores a hole page by page: each page is then an entry of its own
            self.model[p] = ("hole", p, 0) if self.mode == "order-0" else ("hole", first, order)

    @rule(page=st.integers(0, PAGES - 1))
    def dirty_folio(self, page):
        entry = self.model.get(page)
        if entry is None or entry[0] != "folio":
            with pytest.raises(NotFound):
                self.run(self.pc.tag_folio(self.mapping, page, Tag.DIRTY))
            return
        self.run(self.pc.tag_folio(self.mapping, page, Tag.DIRTY))
        self.dirty.add(entry[1])

    def _drop(self, first: int) -> None:
        _, _, order = self.model[first]
        for p in range(first, first + (1 << order)):
            del self.model[p]
        self.folios.pop(first, None)
        self.dirty.discard(first)

    @rule(page=st.integers(0, PAGES))
    def truncate(self, page):
        """truncate_inode_pages_range from a page boundary to EOF: whole folios and holes go; a straddling large
        folio is split to order 0 (the minimum order here; split_folio) and its pages from `page` on go, the
        others staying order-0 folios of the same pfns (dirty if it was); a straddling hole is trimmed, what
        stays covered by holes of the largest aligned orders."""
        res = self.run(self.pc.truncate_range(self.mapping, page * 4096, None))
        for first in sorted({e[1] for p, e in self.model.items() if p >= page or e[1] + (1 << e[2]) > page}):
            kind, first, order = self.model[first]
            if first < page and kind == "folio":
                old, dirty = self.folios[first], first in self.dirty
                self._drop(first)
                for p in range(first, page):
                    self.model[p] = ("folio", p, 0)
                    self.folios[p] = Folio(old.node, old.pfn + p - first, 0)
                    if dirty:
                        self.dirty.add(p)
            elif first < page:
                self._drop(first)
                self._holes(first, page - 1)
            else:
                self._drop(first)
        for f in res.freed:
            self.run(self.svc.free_pages(f.pfn, f.order))

    def _holes(self, lo: int, hi: int) -> None:
        """fm_store_holes: pages [lo, hi] covered by holes of the largest aligned orders."""
        while lo <= hi:
            order = 0
            while lo % (2 << order) == 0 and lo + (2 << order) - 1 <= hi:
                order += 1
            for p in range(lo, lo + (1 << order)):
                self.model[p] = ("hole", lo, order)
            lo += 1 << order

    @rule()
    def invalidate(self):
        """invalidate_mapping_pages: clean folios go, dirty ones stay."""
        _, _, freed = self.run(self.pc.invalidate(self.mapping))
        for first in [f for f in self.folios if f not in self.dirty]:
            self._drop(first)
        for f in freed:
            self.run(self.svc.free_pages(f.pfn, f.order))

    @invariant()
    def lookups_and_counts_match(self):
        if not hasattr(self, "pc"):
            return
        for page in range(PAGES):
            entry = self.model.get(page)
            if entry is None:
                with pytest.raises(NotFound):
                    self.run(self.pc.find_folio(self.mapping, page))
                continue
            found = self.run(self.pc.find_folio(self.mapping, page))
            kind, first, order = entry
            if kind == "folio":
                assert found.folio == self.folios[first] and found.index == first, (page, found, entry)
            else:
                assert found.zero, (page, found, entry)
        stats = self.run(self.pc.stats(self.mapping))
        folio_pages = sum(1 for e in self.model.values() if e[0] == "folio")
        assert stats["nrpages"] == folio_pages
        assert stats["zero_pages"] == sum(1 for e in self.model.values() if e[0] == "hole")
        expected_folio_entries = folio_pages if self.mode == "order-0" else len(self.folios)
        assert stats["folio_entries"] == expected_folio_entries


def test_page_cache_against_a_model(redis_proc, redis_client):   # redis_client: a flushed database
    global REDIS_URL
    REDIS_URL = redis_proc.url
    run_state_machine_as_test(
        PageCacheMachine,
        settings=settings(max_examples=20, stateful_step_count=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
