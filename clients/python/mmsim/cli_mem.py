"""`mmsim` commands on memory: the buddy allocator, the kmalloc/vmalloc/kvmalloc family, struct page, folios.

    mmsim alloc-pages 2 --gfp 'GFP_KERNEL|__GFP_NOWARN'     mmsim kvmalloc-struct 64 8 1000000
    mmsim kmalloc 4096                                      mmsim malloc 1MiB; mmsim free 0xffffc90000000000
    mmsim page 0x1000                                       mmsim folio mapcount 0x1000
"""

from __future__ import annotations

from typing import Annotated

from mmsim.cli_base import (
    U32,
    U64,
    Data,
    Gfp,
    Hex,
    Mapping,
    Node,
    Offset,
    Out,
    Pfn,
    Repeat,
    app,
    arg,
    command,
    connect,
    group,
    kv_text,
    number,
    opt,
    payload,
    result_out,
)
from mmsim.cli_inspect import image_path

Size = Annotated[int, arg("bytes, decimal, 0x hex or a size (e.g. 4096, 64KiB)", number(0, U64, sizes=True),
                          "SIZE")]
Count = Annotated[int, arg("number of elements (e.g. 1000)", number(0, U64), "N")]
Order = Annotated[int, arg("log2 of the number of pages, 0..10 = MAX_PAGE_ORDER (e.g. 2)", number(0, U32),
                           "ORDER")]
KV_HEX = ("addr", "pfns")


def _alloc_out(a) -> Out:
    return result_out(a, KV_HEX)


@command(app, "kmalloc", panel="Memory")
def kmalloc(size: Size, gfp: Gfp = "GFP_KERNEL", node: Node = -1) -> Out:
    """kmalloc(size, gfp): physically contiguous, one block of the order covering SIZE.

    Example: mmsim kmalloc 4096 --gfp GFP_KERNEL
    """
    with connect() as mm:
        return _alloc_out(mm.kmalloc(size, gfp, node))


@command(app, "vmalloc", panel="Memory")
def vmalloc(size: Size, gfp: Gfp = "GFP_KERNEL", node: Node = -1) -> Out:
    """vmalloc(size): order-0 pages, virtually contiguous.

    Example: mmsim vmalloc 1MiB
    """
    with connect() as mm:
        return _alloc_out(mm.vmalloc(size, gfp, node))


@command(app, "kvmalloc", panel="Memory")
def kvmalloc(size: Size, gfp: Gfp = "GFP_KERNEL", node: Node = -1) -> Out:
    """kvmalloc(size, gfp): an opportunistic kmalloc (no retry, no warning), then vmalloc; prints why it fell back.

    Example: mmsim kvmalloc 2MiB
    """
    with connect() as mm:
        return _alloc_out(mm.kvmalloc(size, gfp, node))


@command(app, "kvmalloc-array", panel="Memory")
def kvmalloc_array(n: Count, size: Size, gfp: Gfp = "GFP_KERNEL") -> Out:
    """kvmalloc_array(n, size, gfp): N * SIZE with check_mul_overflow (an overflow is refused, naming it).

    Example: mmsim kvmalloc-array 1000 64
    """
    with connect() as mm:
        return _alloc_out(mm.kvmalloc_array(n, size, gfp))


@command(app, "kvcalloc", panel="Memory")
def kvcalloc(n: Count, size: Size, gfp: Gfp = "GFP_KERNEL") -> Out:
    """kvcalloc(n, size, gfp): kvmalloc_array with __GFP_ZERO.

    Example: mmsim kvcalloc 1000 64
    """
    with connect() as mm:
        return _alloc_out(mm.kvcalloc(n, size, gfp))


@command(app, "kvmalloc-struct", panel="Memory")
def kvmalloc_struct(
    header: Annotated[int, arg("bytes of the struct's fixed part (e.g. 64)", number(0, U64, sizes=True), "HEADER")],
    element: Annotated[int, arg("bytes per flexible-array element (e.g. 8)", number(0, U64, sizes=True),
                                "ELEMENT")],
    count: Annotated[int, arg("number of elements (e.g. 1000)", number(0, U64), "COUNT")],
    gfp: Gfp = "GFP_KERNEL",
) -> Out:
    """kvmalloc_struct (LSFMM 2018): kvmalloc(struct_size(p, member, count)); saturates on overflow and fails.

    Example: mmsim kvmalloc-struct 64 8 1000; mmsim kvmalloc-struct 64 8 0x2000000000000000  (overflow)
    """
    with connect() as mm:
        return _alloc_out(mm.kvmalloc_struct(header, element, count, gfp))


@command(app, "kvfree", panel="Memory")
def kvfree(addr: Annotated[int, arg("an address kmalloc/vmalloc/kvmalloc* returned (e.g. 0xffff888000400000)",
                                    number(0, U64), "ADDR")]) -> Out:
    """kvfree(addr): vfree or kfree by is_vmalloc_addr().

    Example: mmsim kvfree 0xffff888000400000
    """
    with connect() as mm:
        mm.kvfree(addr)
    return Out({"freed": addr}, f"freed {addr:#x}")


@command(app, "malloc", panel="Memory")
def malloc(size: Size) -> Out:
    """malloc(size) = kvmalloc(size, GFP_KERNEL): the to-do list's proposal for new driver writers.

    Example: mmsim malloc 1MiB
    """
    with connect() as mm:
        return _alloc_out(mm.malloc(size))


@command(app, "free", panel="Memory")
def free(addr: Annotated[int, arg("an address malloc returned (e.g. 0xffffc90000000000)", number(0, U64),
                                  "ADDR")]) -> Out:
    """free(addr) = kvfree(addr).

    Example: mmsim free 0xffffc90000000000
    """
    with connect() as mm:
        mm.free(addr)
    return Out({"freed": addr}, f"freed {addr:#x}")


@command(app, "alloc-pages", panel="Memory")
def alloc_pages(order: Order, gfp: Gfp = "GFP_KERNEL", node: Node = -1) -> Out:
    """alloc_pages(gfp, order): a naturally aligned block of 2**ORDER pages from the buddy allocator.

    Example: mmsim alloc-pages 2 --gfp 'GFP_KERNEL|__GFP_NORETRY'
    """
    with connect() as mm:
        a = mm.alloc_pages(order, gfp, node)
    f = a.folio
    return Out(a.to_dict(), f"pfn {f.pfn:#x} order {f.order} node {f.node}; effective gfp {a.effective_gfp}")


@command(app, "free-pages", panel="Memory")
def free_pages(pfn: Pfn, order: Order) -> Out:
    """__free_pages(page, order): give a block back; prints the order it merged up to with its buddies.

    Example: mmsim free-pages 0x1000 2
    """
    with connect() as mm:
        merged = mm.free_pages(pfn, order)
    return Out({"merged_order": merged}, f"freed; merged into a free block of order {merged}")


@command(app, "fragment", panel="Memory")
def fragment(
    node: Annotated[int, opt("NUMA node (e.g. 0)", "--node", parser=number(0, U32), metavar="NODE")] = 0,
    zone: Annotated[str, opt("zone: DMA, DMA32, Normal, Movable; default the node's highest (e.g. Normal)",
                             "--zone", metavar="ZONE")] = "",
    max_free_order: Annotated[int, opt("leave no free block above this order (e.g. 0)", "--max-free-order",
                                       parser=number(0, 10), metavar="ORDER")] = 0,
    movable: Annotated[bool, opt("keep movable pages (compaction can move them) instead of pinned ones",
                                 "--movable")] = False,
) -> Out:
    """Fragment memory on purpose: high-order allocations fail, order 0 still works (watch the fallbacks).

    Example: mmsim fragment --max-free-order 1
    """
    with connect() as mm:
        return result_out(mm.allocator.fragment(node, zone, max_free_order, movable))


@command(app, "unfragment", panel="Memory")
def unfragment(node: Annotated[int, opt("NUMA node (e.g. 0)", "--node", parser=number(0, U32),
                                        metavar="NODE")] = 0) -> Out:
    """Undo fragment: free the pages it pinned.

    Example: mmsim unfragment
    """
    with connect() as mm:
        freed = mm.allocator.unfragment(node)
    return Out({"freed": freed}, f"{freed} pages given back")


@command(app, "page", panel="Memory")
def page(pfn: Pfn, draw: Annotated[str, opt("also draw its words into FILE (.png or .svg), the union member "
                                            "in use highlighted", "--draw", parser=image_path, metavar="FILE")] = "") -> Out:
    """One struct page, decoded: flags (PG_*), page type, the union member in use, mapping/index, mapcount,
    refcount, memcg.

    Example: mmsim page 0x1000; mmsim page 0x1000 --draw page.svg
    """
    with connect() as mm:
        p = mm.allocator.get_page(pfn)
    if draw:
        from mmsim.cli_pictures import page_draw  # noqa: PLC0415

        page_draw(p, draw)
    data = p.to_dict()
    for key in ("text", "pg_flags", "mapped"):
        data.pop(key, None)
    # flags by their PG_ names; mapcount as the count page_mapcount() gives, the raw _mapcount beside it
    data.update(flags=p.pg_flags, mapcount=p.mapped, _mapcount=p.mapcount)
    shown = {k: v for k, v in data.items() if k != "owner_words" or p.union_member == "owner"}
    shown["flags"] = "|".join(data["flags"]) or "0"
    return Out(data, kv_text(shown, ("pfn", "compound_head")) + (f"\nwrote {draw}" if draw else ""))


folio_app = group("folio", "Folios: in the page cache (find, add) and in page tables (mapcount).", "Memory")


@command(folio_app, "mapcount")
def folio_mapcount(pfn: Pfn, node: Annotated[int, opt("NUMA node of the pfn (e.g. 0)", "--node",
                                                      parser=number(0, U32), metavar="NODE")] = 0) -> Out:
    """folio_mapcount(): PTEs and PMDs mapping the folio, page_mapcount() (the page's _mapcount + 1 + the folio's
    entire mapcount: its PMDs), refcount, who maps it.

    Example: mmsim folio mapcount 0x1000
    """
    with connect() as mm:
        r = mm.rmap.folio_mapcount(pfn, node)
    data = r.to_dict()
    return Out(data, kv_text(data))


@command(folio_app, "find")
def folio_find(mapping: Mapping, index: Annotated[int, arg("file index in pages (e.g. 0)", number(0, U64),
                                                           "INDEX")]) -> Out:
    """filemap_get_entry: the folio (or zero entry) covering INDEX; "nothing cached" (found false, exit 0)
    when the index is empty; NOT_FOUND (exit 1) only when the file does not exist.

    Example: mmsim folio find xfs0/1 0
    """
    with connect() as mm:
        r = mm.pagecache.find_folio(mapping, index)
    if not r.found:
        return Out(r.to_dict(), f"index {index} of {mapping}: nothing cached (no folio, no zero entry)")
    return result_out(r)


@command(folio_app, "write")
def folio_write(mapping: Mapping, offset: Offset, data: Data, repeat: Repeat = 1, as_hex: Hex = False) -> Out:
    """generic_perform_write's step for one cached folio (WriteFolio): the part of DATA that falls in the folio
    covering OFFSET is copied in and the folio marked dirty, in one step; nothing is written where a zero
    entry, a folio shared through PFN entries or nothing covers OFFSET (write(2) would make a folio first).

    Example: mmsim folio write xfs0/1 0 hello
    """
    with connect() as mm:
        r = mm.pagecache.write_folio(mapping, offset, payload(data, as_hex, repeat))
    if not r.written:
        why = "a zero entry" if r.entry.zero_entry else "a folio shared through PFN entries" if r.entry.shared \
            else "nothing"
        return Out(r.to_dict(), f"nothing written: {why} covers offset {offset} of {mapping}")
    return Out(r.to_dict(), f"wrote {r.written} bytes into folio {r.entry.folio.pfn:#x} (order "
                            f"{r.entry.folio.order}, index {r.entry.folio_index}); it is dirty")


@command(folio_app, "add")
def folio_add(
    mapping: Mapping,
    index: Annotated[int, arg("file index of the first page, a multiple of 2**order (e.g. 0)", number(0, U64),
                              "INDEX")],
    pfn: Annotated[int | None, opt("head pfn of an allocated folio (from alloc-pages) (e.g. 0x1000)", "--pfn",
                                   parser=number(0, U64), metavar="PFN")] = None,
    order: Annotated[int, opt("order of that folio, or of the zero entry (e.g. 2)", "--order",
                              parser=number(0, 10), metavar="ORDER")] = 0,
    node: Annotated[int, opt("NUMA node of the folio (e.g. 0)", "--node", parser=number(0, U32),
                             metavar="NODE")] = 0,
) -> Out:
    """filemap_add_folio: insert a folio at INDEX (ALREADY_EXISTS when one is there); without --pfn a zero
    entry (a hole: reads as zeros, no page).

    Example: mmsim alloc-pages 2 --json; mmsim folio add xfs0/1 0 --pfn 0x1000 --order 2
    """
    from mmsim.client import Folio  # noqa: PLC0415

    with connect() as mm:
        folio = Folio(pfn, order, node) if pfn is not None else None
        nrpages = mm.pagecache.add_folio(mapping, index, folio, zero_order=None if folio else order)
    what = f"folio {pfn:#x} order {order}" if folio else f"zero entry of order {order}"
    return Out({"nrpages": nrpages}, f"inserted {what} at index {index}; nrpages {nrpages}")

