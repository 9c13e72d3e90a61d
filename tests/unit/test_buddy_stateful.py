"""Hypothesis state machine: random alloc/free of random orders against a simple model."""

from __future__ import annotations

import asyncio

import hypothesis.strategies as st
from mmsim.runtime.redis_client import connect as connect_redis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mmsim.allocator import gfp as G
from mmsim.allocator import procfs
from mmsim.allocator.buddy import BuddyAllocator
from mmsim.allocator.zones import Layout
from mmsim.runtime.errors import ResourceExhausted

GFPS = [G.GFP_KERNEL | G.GFP["__GFP_NORETRY"] | G.GFP["__GFP_NOWARN"], G.GFP_HIGHUSER_MOVABLE | G.GFP["__GFP_NOWARN"],
        G.GFP_ATOMIC | G.GFP["__GFP_NOWARN"] | G.GFP["__GFP_COMP"], G.GFP["__GFP_RECLAIMABLE"] | G.GFP["__GFP_NOWARN"]]  # fmt: skip


def make_machine(url: str):
    class BuddyMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.r = connect_redis(url)
            self.run(self.r.flushdb())
            self.b = BuddyAllocator(self.r, Layout.build(8 << 20, 1))  # 2048 pages: 2 order-10 blocks
            self.run(self.b.init_memory())
            self.initial = self.run(self.b.zone_counters())
            self.live: dict[int, int] = {}  # pfn -> order
            self.pages: set[int] = set()

        def run(self, coro):
            return self.loop.run_until_complete(coro)

        @rule(order=st.integers(0, 10), gfp=st.sampled_from(GFPS))
        def alloc(self, order, gfp):
            try:
                a = self.run(self.b.alloc_pages(order, gfp))
            except ResourceExhausted:
                return
            assert a.pfn % (1 << order) == 0
            span = set(range(a.pfn, a.pfn + (1 << order)))
            assert not span & self.pages, "overlap"
            self.pages |= span
            self.live[a.pfn] = order

        @precondition(lambda self: self.live)
        @rule(data=st.data())
        def free(self, data):
            pfn = data.draw(st.sampled_from(sorted(self.live)))
            order = self.live.pop(pfn)
            self.run(self.b.free_pages(pfn, order))
            self.pages -= set(range(pfn, pfn + (1 << order)))

        @invariant()
        def consistent(self):
            zones = self.run(self.b.zone_counters())
            total = sum(z["managed"] for z in zones)
            assert sum(z["nr_free_pages"] for z in zones) == total - len(self.pages)
            blocks = self.run(self.b.free_blocks(0, "DMA"))
            free_pages = set()
            for o, heads in blocks.items():
                for h in heads:
                    span = set(range(h, h + (1 << o)))
                    assert not span & free_pages and not span & self.pages
                    free_pages |= span
            assert len(free_pages) + len(self.pages) == total
            z = zones[0]
            line = procfs.buddyinfo([z])
            assert line == procfs.buddyinfo([{"node": 0, "zone": "DMA", **{f"nr_free:{o}": len(blocks[o]) for o in range(11)}}])

        def teardown(self):
            for pfn, order in list(self.live.items()):
                self.run(self.b.free_pages(pfn, order))
            final = self.run(self.b.zone_counters())
            assert procfs.buddyinfo(final) == procfs.buddyinfo(self.initial)
            assert self.run(self.b.free_blocks(0, "DMA"))[10] == {0, 1024}
            self.run(self.r.aclose())
            self.loop.close()

    return BuddyMachine


def test_buddy_state_machine(redis_proc):
    machine = make_machine(redis_proc.url)
    machine.TestCase.settings = settings(
        max_examples=40, stateful_step_count=40, deadline=None, suppress_health_check=list(HealthCheck)
    )
    machine.TestCase().runTest()
