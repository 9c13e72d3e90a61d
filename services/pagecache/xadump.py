"""Draw an XArray for a terminal (`mmsim xa dump`), in the spirit of lib/xarray.c: xa_dump."""

from __future__ import annotations

from mmsim.pagecache.xarray import NODE, ZERO, Dump, DumpNode, Sibling, Value

MARK_NAMES = ("DIRTY", "WRITEBACK", "TOWRITE")   # PAGECACHE_TAG_* on XA_MARK_0..2


def describe_entry(entry) -> str:
    if isinstance(entry, Sibling):
        return f"sibling of slot {entry.offset}"
    if entry is ZERO:
        return "XA_ZERO_ENTRY (reserved)"
    if isinstance(entry, Value):
        return "zero entry (hole)" if int(entry) == 4 else f"value {int(entry)}"
    if isinstance(entry, bytes):
        node, pfn, order = entry.decode().split(":")
        return f"folio pfn {int(pfn):#x} order {order} node {node}"
    return repr(entry)


def _marks(node: DumpNode, offset: int) -> str:
    names = [MARK_NAMES[m] for m in range(3) if offset in node.marks[m]]
    return f"  [{'|'.join(names)}]" if names else ""


def render(dump: Dump, title: str = "") -> str:
    cs = dump.chunk_shift
    nodes = {(n.shift, n.index): n for n in dump.nodes}
    flags = [MARK_NAMES[m] for m in range(3) if dump.marks[m]]
    lines = [f"{title}  chunk_shift {cs} ({1 << cs} slots/node), {len(dump.nodes)} nodes"
             + (f", marks {'|'.join(flags)}" if flags else "")]
    if dump.head is None:
        lines.append("head: empty")
        return "\n".join(lines)
    if dump.head != NODE:
        lines.append(f"head: index 0 -> {describe_entry(dump.head)} (no node)")
        return "\n".join(lines)

    def walk(node: DumpNode, depth: int) -> None:
        pad = "  " * depth
        span = 1 << (node.shift + cs)
        lines.append(f"{pad}node shift {node.shift} indices {node.index:#x}-{node.index + span - 1:#x} "
                     f"count {node.count} values {node.nr_values}")
        offsets = sorted(node.slots)
        i = 0
        while i < len(offsets):
            off = offsets[i]
            entry = node.slots[off]
            first = node.index + (off << node.shift)
            if entry == NODE:
                lines.append(f"{pad}  [{off:>2}] {first:#x}: node{_marks(node, off)}")
                child = nodes.get((node.shift - cs, first))
                if child:
                    walk(child, depth + 2)
                i += 1
                continue
            if isinstance(entry, Sibling):   # collapse a run of siblings of the same slot
                j = i
                while j + 1 < len(offsets) and node.slots[offsets[j + 1]] == entry and offsets[j + 1] == offsets[j] + 1:
                    j += 1
                lines.append(f"{pad}  [{off:>2}{'-' + str(offsets[j]) if j > i else ''}] {describe_entry(entry)}")
                i = j + 1
                continue
            lines.append(f"{pad}  [{off:>2}] {first:#x}: {describe_entry(entry)}{_marks(node, off)}")
            i += 1

    root = next((n for n in dump.nodes if n.shift == dump.root_shift), None)
    if root:
        walk(root, 0)
    return "\n".join(lines)
