"""The renderers of mmsim.pictures on fixed inputs: a major fault's trace (5 spans over the four services) and an
XArray of 7 nodes (chunk_shift 3: multi-order folios, a zero entry, a DIRTY mark), both recorded from a real
stack into tests/unit/pictures/*.json.

The text pictures (waterfall, Mermaid, dot) are compared with golden files, reviewed by eye once
(MMSIM_UPDATE_GOLDEN=1 rewrites them); SVG and PNG output, which depends on the library versions and fonts,
is checked for what it must show. The page cache's XaTree reply (services/pagecache/xatree.py) is checked on
hand-made dumps.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from google.protobuf.json_format import ParseDict

from mmsim import pictures
from mmsim.client import PageInfo, XaTree
from mmsim.pagecache import xatree
from mmsim.pagecache.xarray import NODE, ZERO, Dump, DumpNode, Sibling, Value
from mmsim.traceview import TraceTree
from mmsim.v1 import page_cache_pb2, trace_pb2

HERE = Path(__file__).with_name("pictures")
SVG = "{http://www.w3.org/2000/svg}"


def trace() -> TraceTree:
    spans = json.loads((HERE / "trace_major_fault.json").read_text())["spans"]
    return TraceTree([ParseDict(s, trace_pb2.Span()) for s in spans])


def xa(**changes) -> XaTree:
    data = json.loads((HERE / "xa_tree.json").read_text())
    data.update(changes)
    return XaTree.from_pb(ParseDict(data, page_cache_pb2.XaTreeResponse()))


def golden(name: str, text: str) -> None:
    path = HERE / name
    if os.environ.get("MMSIM_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed: review it and rerun with MMSIM_UPDATE_GOLDEN=1"


# Traces ----------------------------------------------------------------------------------------------------


def test_waterfall_text_is_the_golden_one():
    golden("waterfall.txt", pictures.waterfall_text(trace()) + "\n")


def test_waterfall_bars_start_where_their_spans_start_and_nest_in_call_order():
    rows = pictures.bars(trace())
    assert [(b.depth, b.service, b.method.split("/")[1]) for b in rows] == [
        (0, "rmap", "HandleFault"), (1, "pagecache", "Fault"), (2, "filesystem", "Populate"),
        (3, "allocator", "AllocPages"), (3, "pagecache", "AddFolio")]
    assert rows[0].start_ms == 0
    for parent, child in zip(rows, rows[1:3]):        # each child inside its caller's time
        assert parent.start_ms <= child.start_ms and child.start_ms + child.duration_ms <= parent.start_ms + parent.duration_ms
    assert rows[3].gfp.startswith("GFP_HIGHUSER_MOVABLE") and rows[3].order == "2"
    assert rows[2].events == ("lock.acquire", "lock.release")


def test_sequence_diagram_is_the_golden_one_between_the_four_services():
    text = pictures.sequence_mermaid(trace())
    golden("sequence.mmd", text)
    participants = [line.split()[1] for line in text.splitlines() if line.strip().startswith("participant")]
    assert participants == ["rmap", "pagecache", "filesystem", "allocator"]
    calls = [line.strip() for line in text.splitlines() if "->>+" in line]
    replies = [line.strip() for line in text.splitlines() if "-->>-" in line]
    assert len(calls) == len(replies) == 5            # every request answered
    assert calls[0].startswith("user->>+rmap: HandleFault(") and "filesystem->>+allocator: AllocPages(" in calls[3]


def test_mermaid_text_cannot_end_a_statement_early():
    assert pictures._mermaid_text("a;b#c") == "a#59;b#35;c"


def test_waterfall_svg_has_a_bar_per_span_with_gfp_and_order_on_hover():
    root = ET.fromstring(pictures.waterfall_svg(trace()))
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert len(titles) == 5
    assert all("gfp=" in t and "order=" in t for t in titles)
    alloc = next(t for t in titles if t.startswith("allocator"))
    assert "gfp=GFP_HIGHUSER_MOVABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP" in alloc and "order=2" in alloc
    assert "redis x1" in alloc and "net.peer" not in alloc
    text = ET.tostring(root, encoding="unicode")
    for colour in ("#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"):   # a colour per service
        assert colour in text


def test_an_empty_trace_is_said_so():
    assert pictures.waterfall_text(TraceTree([])) == "(no spans)"


# The XArray ------------------------------------------------------------------------------------------------


def test_xarray_dot_is_the_golden_one():
    golden("xa_tree.dot", pictures.xa_dot(xa()))


def test_xarray_mermaid_is_the_golden_one():
    golden("xa_tree.mmd", pictures.xa_mermaid(xa()))


def test_sibling_runs_are_one_group_after_their_canonical_slot():
    leaf = next(n for n in xa().nodes if n.shift == 0 and n.index == 0)
    groups = [(first, last, slot.kind) for first, last, slot in pictures.slot_groups(leaf)]
    assert groups == [(0, 0, "folio"), (1, 3, "sibling"), (4, 4, "folio"), (5, 7, "sibling")]


def test_the_entry_kinds_marks_and_holes_are_drawn_distinctly():
    dot = pictures.xa_dot(xa())
    assert "[0] folio 0x1000 o2 <FONT" in dot and ">D</B>" in dot      # the DIRTY mark on the folio
    assert "[4] zero o2" in dot and pictures.KIND_COLOURS["zero"] in dot
    assert "[1-3] sibling of 0" in dot and pictures.KIND_COLOURS["sibling"] in dot
    assert "… 5" in dot                                                   # a run of empty slots, counted


def test_a_cut_tree_says_what_it_left_out():
    full = xa()
    cut = xa(nodes=[json.loads((HERE / "xa_tree.json").read_text())["nodes"][i] for i in range(4)], levels_shown=2)
    assert len(cut.nodes) == 4 and cut.total_nodes == full.total_nodes == 7
    dot = pictures.xa_dot(cut)
    assert dot.count("subtree at") == 3 and "3 of 7 nodes below level 2 not drawn" in dot
    assert pictures.xa_mermaid(cut).count("(not drawn)") == 3


def test_an_empty_array_and_a_single_entry_head():
    empty = XaTree("xfs0/9", 6, None, 0, 0, [], 0, 0, [])
    assert "xa_head: NULL (empty)" in pictures.xa_dot(empty)
    from mmsim.client import Folio, XaSlot  # noqa: PLC0415

    head = XaSlot(0, 0, "folio", Folio(0x2000, 0), 0, 0, 0, [])
    assert "xa_head: folio 0x2000 o0 at index 0" in pictures.xa_dot(XaTree("xfs0/9", 6, head, 0, 0, [], 0, 0, []))


def test_svg_needs_graphviz_and_says_how_to_get_it(monkeypatch):
    source = pictures.xa_dot(xa())
    if pictures.dot_available():
        root = ET.fromstring(pictures.dot_to_svg(source))
        assert "folio 0x1004 o2" in "".join(root.itertext())
    monkeypatch.setattr(pictures.shutil, "which", lambda name: None)
    with pytest.raises(pictures.PictureError, match="apt-get install graphviz.*--format dot"):
        pictures.dot_to_svg(source)


# The page cache's XaTree reply -----------------------------------------------------------------------------


def _dump() -> Dump:
    none = (frozenset(), frozenset(), frozenset())
    root = DumpNode(2, 0, 0, 2, 0, none, {0: NODE, 3: NODE})
    leaf = DumpNode(0, 0, 0, 4, 1, (frozenset({0}), frozenset(), frozenset()),
                    {0: b"0:4096:1", 1: Sibling(0), 2: Value(4), 3: ZERO})
    far = DumpNode(0, 12, 3, 1, 1, none, {1: Value(77)})
    return Dump(2, NODE, 2, (True, False, False), [root, leaf, far])


def test_xatree_classifies_every_kind_of_entry_and_counts_orders_from_siblings():
    reply = xatree.tree(_dump(), "xfs0/1", 0)
    tree = XaTree.from_pb(reply)
    assert (tree.chunk_shift, tree.root_shift, tree.total_nodes, tree.levels, tree.marks) == (2, 2, 3, 2, ["DIRTY"])
    leaf = tree.nodes[1]
    assert [(s.offset, s.kind, s.order) for s in leaf.slots] == [(0, "folio", 1), (1, "sibling", 0), (2, "zero", 0),
                                                                 (3, "reserved", 0)]
    assert leaf.slots[0].folio.pfn == 4096 and leaf.slots[0].marks == ["DIRTY"] and leaf.slots[1].sibling_of == 0
    assert tree.nodes[2].slots[0].kind == "value" and tree.nodes[2].slots[0].value == 77
    assert tree.nodes[2].slots[0].index == 13


def test_xatree_cuts_below_the_last_whole_level_that_fits():
    reply = xatree.tree(_dump(), "xfs0/1", 2)
    assert (len(reply.nodes), reply.levels_shown, reply.total_nodes) == (1, 1, 3)
    assert xatree.tree(_dump(), "xfs0/1", 1).levels_shown == 1       # the root level is always drawn


def test_xatree_refuses_more_nodes_than_it_serves():
    from mmsim.runtime.errors import InvalidArgument  # noqa: PLC0415

    with pytest.raises(InvalidArgument, match="max_nodes must be 0..4096"):
        xatree.tree(_dump(), "xfs0/1", 4097)


# /proc/buddyinfo and struct page ---------------------------------------------------------------------------


def test_buddyinfo_chart_is_written_as_png_or_svg(tmp_path):
    zones = [{"node": 0, "zone": "DMA", "free": [1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 4]},
             {"node": 0, "zone": "DMA32", "free": [5, 3, 0, 1, 1, 1, 1, 1, 1, 1, 11]}]
    png = pictures.buddyinfo_figure(zones, str(tmp_path / "b.png"))
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = ET.parse(pictures.buddyinfo_figure(zones, str(tmp_path / "b.svg"))).getroot()
    assert "DMA32" in "".join(svg.itertext()) and "4M" in "".join(svg.itertext())
    with pytest.raises(pictures.PictureError, match=r"\.png or \.svg"):
        pictures.buddyinfo_figure(zones, str(tmp_path / "b.pdf"))


PAGECACHE_TEXT = """*(struct page *)pfn_to_page(4100) = {  /* node 0, zone DMA32 */
\t.flags = 0x68 (uptodate|lru|head),
\t/* union member in use: page_cache */
\t.lru.next = 0,
\t.lru.prev = 0,
\t.mapping = 4 /* xfs0/1 */,
\t.index = 20,
\t.private = 0,
\t._mapcount = 0,
\t._refcount = 5,
\t.memcg_data = 0,
}"""


def _page(member: str, text: str, **kw) -> PageInfo:
    base = dict(pfn=4100, node=0, zone="DMA32", flags=[], page_type="", union_member=member, mapping="", index=0,
                private=0, compound_head=0, order=0, mapcount=-1, refcount=0, memcg=0, owner_words=[], text=text)
    return PageInfo(**{**base, **kw})


def test_struct_page_rows_highlight_the_union_member_in_use(tmp_path):
    rows = pictures.page_rows(_page("page_cache", PAGECACHE_TEXT, mapcount=0, refcount=5))
    assert [r[0] for r in rows] == ["0", "4", "8", "16", "24", "32", "40", "48", "52"]     # the 56-byte record
    by_field = {r[2]: (r[3], r[4]) for r in rows}
    assert by_field["w2: mapping"] == ("4 /* xfs0/1 */", True) and by_field["w3: index"] == ("20", True)
    assert by_field["flags"] == ("0x68 (uptodate|lru|head)", False) and by_field["_refcount"] == ("5", False)
    buddy = pictures.page_rows(_page("buddy", "\t.buddy_list = free_list[order 3][Movable],\n\t.private = 3 /* buddy order */,",
                                     page_type="buddy"))
    used = [r[2] for r in buddy if r[4]]
    assert used == ["w0: buddy_list", "w1: buddy_list", "w4: private"]
    assert buddy[1][2] == "page_type"
    owner = pictures.page_rows(_page("owner_words", "", owner_words=[1, 2, 3, 4, 5]))
    assert [r[3] for r in owner if r[4]] == ["0x1", "0x2", "0x3", "0x4", "0x5"]
    svg = ET.parse(pictures.struct_page_figure(_page("page_cache", PAGECACHE_TEXT), str(tmp_path / "p.svg"))).getroot()
    assert "w2: mapping" in "".join(svg.itertext())


# The XaTree reply against the XArray itself (a real redis-server) ------------------------------------------

def test_xatree_agrees_with_load_get_order_and_marks(redis_proc):
    """Random multi-order stores, values, reserved entries and marks in a real XArray: every canonical slot the
    tree shows covers exactly the indices xa_load finds its entry at, with xa_get_order's order and
    xa_get_mark's marks; every sibling points back at a canonical slot of its node; every stored index is in
    some slot of the tree."""
    import asyncio  # noqa: PLC0415
    import uuid  # noqa: PLC0415

    import redis.asyncio as aioredis  # noqa: PLC0415
    from hypothesis import HealthCheck, given, settings  # noqa: PLC0415
    from hypothesis import strategies as st  # noqa: PLC0415

    from mmsim.pagecache.xarray import XArray  # noqa: PLC0415

    op = st.tuples(st.integers(0, 255), st.integers(0, 4), st.sampled_from(["folio", "value", "hole", "reserve"]),
                   st.sets(st.integers(0, 2), max_size=2))

    async def run(cs: int, ops) -> None:
        client = aioredis.Redis.from_url(redis_proc.url)
        xa = XArray(client, f"mmsim:{{m:pics/{uuid.uuid4().hex}}}:xa", chunk_shift=cs)
        try:
            stored = set()
            for index, order, kind, marks in ops:
                first = index >> order << order
                if kind == "reserve":
                    if await xa.load(first) is None:
                        await xa.reserve(first)
                    continue
                entry = {"folio": f"0:{4096 + first}:{order}".encode(), "value": Value(7), "hole": Value(4)}[kind]
                await xa.store_order(first, order, entry)
                stored.update(range(first, first + (1 << order)))
                for m in marks:
                    await xa.set_mark(first, m)
            tree = XaTree.from_pb(xatree.tree(await xa.dump(), "pics/1", 4096))
            covered = set()
            kinds = {"folio": bytes, "value": Value, "zero": Value}
            for node in tree.nodes:
                canonical = {s.offset for s in node.slots if s.kind not in ("sibling", "node")}
                for slot in node.slots:
                    if slot.kind == "sibling":
                        assert slot.sibling_of in canonical and slot.sibling_of < slot.offset
                        continue
                    if slot.kind in ("node", "reserved"):
                        continue
                    entry = await xa.load(slot.index)
                    assert isinstance(entry, kinds[slot.kind]), (slot, entry)
                    assert (slot.kind == "zero") == (entry == Value(4) and isinstance(entry, Value))
                    assert await xa.get_order(slot.index) == slot.order
                    span = range(slot.index, slot.index + (1 << slot.order))
                    assert all([await xa.load(i) == entry for i in (span[0], span[-1])])
                    assert set(slot.marks) == {name for m, name in enumerate(("DIRTY", "WRITEBACK", "TOWRITE"))
                                               if await xa.get_mark(slot.index, m)}
                    covered.update(span)
            if tree.head is not None and tree.head.kind not in ("node", "reserved"):
                covered.add(0)
            assert stored <= covered
        finally:
            await xa.destroy()
            await client.aclose()

    @settings(max_examples=15, derandomize=True, deadline=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.sampled_from([2, 3]), st.lists(op, min_size=1, max_size=12))
    def check(cs, ops):
        asyncio.run(run(cs, ops))

    check()
