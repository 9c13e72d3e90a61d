"""A mapping's XArray as data for pictures (`mmsim xa draw`, the web view): lib/xarray.c xa_dump's walk, each
slot classified by the kind of entry it holds (include/linux/xarray.h: xa_is_node, xa_is_sibling,
xa_is_value, xa_is_zero), the order of each multi-index entry counted from its sibling slots.

Reads only what ``XArray.dump`` returns (one round trip); a tree larger than ``max_nodes`` is cut below the
last whole level that fits, so a picture of a huge file stays a picture.
"""

from __future__ import annotations

from mmsim.pagecache.xarray import NODE, ZERO, Dump, DumpNode, Sibling, Value
from mmsim.runtime.errors import require
from mmsim.v1 import common_pb2, page_cache_pb2 as pb

DEFAULT_MAX_NODES = 64
MAX_NODES = 4096
HOLE = 4                      # the page cache's zero entry is the value entry 4 (filemap.lua FM_HOLE)
_TAGS = (pb.PAGECACHE_TAG_DIRTY, pb.PAGECACHE_TAG_WRITEBACK, pb.PAGECACHE_TAG_TOWRITE)   # XA_MARK_0..2


def slot_pb(entry, offset: int, index: int, order: int, marks: list[int]) -> pb.XaSlot:
    """One slot: what it holds, by the kernel's kinds of entry."""
    out = pb.XaSlot(offset=offset, index=index, order=order, marks=marks)
    if entry == NODE:
        out.kind = pb.XA_ENTRY_KIND_NODE
    elif isinstance(entry, Sibling):
        out.kind, out.sibling_of = pb.XA_ENTRY_KIND_SIBLING, entry.offset
    elif entry is ZERO:
        out.kind = pb.XA_ENTRY_KIND_RESERVED
    elif isinstance(entry, Value):
        out.kind = pb.XA_ENTRY_KIND_ZERO if int(entry) == HOLE else pb.XA_ENTRY_KIND_VALUE
        out.value = int(entry)
    else:                      # a folio pointer, stored as b"node:pfn:order"
        node, pfn, folio_order = (int(part) for part in entry.decode().split(":"))
        out.kind = pb.XA_ENTRY_KIND_FOLIO
        out.folio.CopyFrom(common_pb2.Folio(pfn=pfn, order=folio_order, node=node))
    return out


def _node_pb(node: DumpNode, cs: int) -> pb.XaNode:
    out = pb.XaNode(shift=node.shift, index=node.index, offset=node.offset, count=node.count,
                    nr_values=node.nr_values)
    for off in sorted(node.slots):
        entry = node.slots[off]
        siblings = 0
        if not isinstance(entry, Sibling) and entry != NODE:
            while node.slots.get(off + 1 + siblings) == Sibling(off):
                siblings += 1
        order = node.shift + (siblings + 1).bit_length() - 1
        marks = [_TAGS[m] for m in range(3) if off in node.marks[m]]
        out.slots.append(slot_pb(entry, off, node.index + (off << node.shift), order, marks))
    return out


def tree(dump: Dump, mapping: str, max_nodes: int) -> pb.XaTreeResponse:
    """The XaTree reply: head, root shift, marks and the nodes of the first levels that fit in max_nodes."""
    require(0 <= max_nodes <= MAX_NODES, f"max_nodes must be 0..{MAX_NODES}, not {max_nodes}")
    max_nodes = max_nodes or DEFAULT_MAX_NODES
    cs = dump.chunk_shift
    out = pb.XaTreeResponse(mapping=mapping, chunk_shift=cs, total_nodes=len(dump.nodes),
                            marks=[_TAGS[m] for m in range(3) if dump.marks[m]])
    if dump.head is not None:
        out.head.CopyFrom(slot_pb(dump.head, 0, 0, 0, []))
    if dump.root_shift is None:
        return out
    out.root_shift = dump.root_shift
    by_level: dict[int, list[DumpNode]] = {}
    for node in dump.nodes:
        by_level.setdefault(node.shift, []).append(node)
    out.levels = len(by_level)
    shown = 0
    for shift in sorted(by_level, reverse=True):
        level = sorted(by_level[shift], key=lambda n: n.index)
        if shown and shown + len(level) > max_nodes:
            break
        out.nodes.extend(_node_pb(n, cs) for n in level)
        out.levels_shown += 1
        shown += len(level)
    return out
