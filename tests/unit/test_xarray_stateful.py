"""Hypothesis state machine: the Redis XArray against a dict-of-ranges model.

The model keeps each entry as an aligned range [start, end] with its entry and marks, and encodes
the kernel rules the XArray follows: storing inside a larger entry replaces that whole entry
(keeping its order and marks), storing over smaller entries replaces them and takes the union of
their marks, erasing any index erases the whole entry, reserved (ZERO) entries are busy for insert
but invisible to load and iteration.  The machine drives the async API on a private event loop
with its own redis.asyncio client.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import pytest
from mmsim.runtime.redis_client import connect as connect_redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from mmsim.pagecache.xarray import ZERO, Value, XArray
from mmsim.runtime.errors import AlreadyExists

REDIS_URL: str | None = None
SMALL = st.integers(0, 63)
ORDERS = st.integers(0, 6)
MARKS = st.integers(0, 2)
ENTRIES = st.one_of(st.builds(Value, st.integers(0, 2**63 - 1)), st.binary(max_size=4))


@dataclass
class Range:
    end: int
    entry: object
    marks: set[int] = field(default_factory=set)


class XArrayMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.client = connect_redis(REDIS_URL)
        self.model: dict[int, Range] = {}

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def teardown(self):
        self.run(self.xa.destroy())
        self.run(self.client.aclose())
        self.loop.close()

    @initialize(cs=st.sampled_from([2, 3, 6]), base=st.sampled_from([0, 2**32, 2**53, 2**64 - 64]))
    def setup(self, cs, base):
        self.cs, self.base = cs, base
        self.xa = XArray(self.client, f"mmsim:{{m:hyp/{uuid.uuid4().hex}}}:xa", chunk_shift=cs)

    # -- model helpers -------------------------------------------------------------------
    def containing(self, index):
        for start, r in self.model.items():
            if start <= index <= r.end:
                return start, r
        return None, None

    @staticmethod
    def visible(entry):
        return None if entry is ZERO else entry

    def order_of(self, start):
        return (self.model[start].end - start + 1).bit_length() - 1

    def model_store(self, a, b, entry):
        start, r = self.containing(a)
        if entry is not None and r is not None and start <= a and r.end >= b:
            r.entry = entry
            return
        marks = set()
        for s in [s for s, r in self.model.items() if s <= b and r.end >= a]:
            marks |= self.model.pop(s).marks
        if entry is not None:
            self.model[a] = Range(b, entry, marks)

    def model_find(self, start, mark):
        s, r = self.containing(start)
        if r is not None and r.entry is not ZERO and (mark is None or mark in r.marks):
            if mark is None:
                return start, r.entry
            slot = 1 << (self.order_of(s) // self.cs * self.cs)
            return (start if start < s + slot else s), r.entry
        for s in sorted(self.model):
            r = self.model[s]
            if s > start and r.entry is not ZERO and (mark is None or mark in r.marks):
                return s, r.entry
        return None

    def model_for_each(self, start, mark):
        first = self.model_find(start, mark)
        if first is None:
            return []
        rest = [(s, self.model[s].entry) for s in sorted(self.model) if s > first[0]]
        return [first] + [(s, e) for s, e in rest
                          if e is not ZERO and (mark is None or mark in self.model[s].marks)]

    # -- rules ---------------------------------------------------------------------------
    @rule(small=SMALL, order=ORDERS, entry=st.one_of(st.none(), ENTRIES))
    def store_order(self, small, order, entry):
        a = self.base + (small & ~((1 << order) - 1))
        b = a + (1 << order) - 1
        _, r = self.containing(a)
        expected = self.visible(r.entry) if r else None
        old = self.run(self.xa.store_order(a, order, entry))
        if order == 0:
            assert old == expected
        self.model_store(a, b, entry)

    @rule(small=SMALL, entry=ENTRIES)
    def store(self, small, entry):
        i = self.base + small
        _, r = self.containing(i)
        assert self.run(self.xa.store(i, entry)) == (self.visible(r.entry) if r else None)
        self.model_store(i, i, entry)

    @rule(small=SMALL)
    def erase(self, small):
        i = self.base + small
        start, r = self.containing(i)
        assert self.run(self.xa.erase(i)) == (self.visible(r.entry) if r else None)
        if r:
            del self.model[start]

    @rule(small=SMALL, entry=st.one_of(st.none(), ENTRIES))
    def insert(self, small, entry):
        i = self.base + small
        _, r = self.containing(i)
        if r:
            with pytest.raises(AlreadyExists):
                self.run(self.xa.insert(i, entry))
        else:
            self.run(self.xa.insert(i, entry))
            self.model[i] = Range(i, ZERO if entry is None else entry)

    @rule(small=SMALL)
    def reserve(self, small):
        i = self.base + small
        self.run(self.xa.reserve(i))
        if self.containing(i)[1] is None:
            self.model[i] = Range(i, ZERO)

    @rule(small=SMALL)
    def release(self, small):
        i = self.base + small
        self.run(self.xa.release(i))
        start, r = self.containing(i)
        if r is not None and r.entry is ZERO:
            del self.model[start]

    @rule(small=SMALL, mark=MARKS)
    def set_mark(self, small, mark):
        self.run(self.xa.set_mark(self.base + small, mark))
        _, r = self.containing(self.base + small)
        if r:
            r.marks.add(mark)

    @rule(small=SMALL, mark=MARKS)
    def clear_mark(self, small, mark):
        self.run(self.xa.clear_mark(self.base + small, mark))
        _, r = self.containing(self.base + small)
        if r:
            r.marks.discard(mark)

    @rule(small=SMALL, mark=MARKS)
    def get_mark(self, small, mark):
        _, r = self.containing(self.base + small)
        assert self.run(self.xa.get_mark(self.base + small, mark)) == bool(r and mark in r.marks)

    @rule(small=SMALL)
    def get_order(self, small):
        start, r = self.containing(self.base + small)
        assert self.run(self.xa.get_order(self.base + small)) == (self.order_of(start) if r else 0)

    @rule(small=SMALL, mark=st.one_of(st.none(), MARKS))
    def find(self, small, mark):
        assert self.run(self.xa.find(self.base + small, mark=mark)) == self.model_find(self.base + small, mark)

    @rule(small=SMALL, mark=st.one_of(st.none(), MARKS), batch=st.sampled_from([1, 3, 256]))
    def for_each(self, small, mark, batch):
        got = self.run(self._collect(self.base + small, mark, batch))
        assert got == self.model_for_each(self.base + small, mark)

    async def _collect(self, start, mark, batch):
        return [item async for item in self.xa.for_each(start=start, mark=mark, batch=batch)]

    @invariant()
    def matches_model(self):
        if not hasattr(self, "xa"):
            return
        got = self.run(self._collect(self.base, None, 256))
        want = [(s, r.entry) for s, r in sorted(self.model.items()) if r.entry is not ZERO]
        assert got == want
        assert self.run(self.xa.empty()) == (not self.model)


def test_xarray_state_machine(redis_proc):
    """The model check (store/store_order/erase/insert/reserve/marks/find/for_each/get_order)."""
    global REDIS_URL
    REDIS_URL = redis_proc.url
    run_state_machine_as_test(
        XArrayMachine,
        settings=settings(max_examples=50, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
