"""Pictures of what the simulated kernel holds: a trace as a waterfall (text or SVG) and as a Mermaid sequence
diagram of the fault delegation protocol; a mapping's XArray as Graphviz dot, SVG or Mermaid; /proc/buddyinfo
as a bar chart; one struct page as its words, the union member in use highlighted.

Pure functions of the client's results (a TraceTree, an XaTree, buddyinfo rows, a PageInfo), so they are
tested on fixed inputs. Layout is left to the libraries: Graphviz lays out trees, matplotlib draws charts and
tables; the only SVG edited here is a <title> (a hover tooltip) added to the bars matplotlib drew. The heavy
imports (matplotlib, graphviz) happen inside the functions that need them.
"""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import dataclass

from mmsim.traceview import TraceTree, short_name

# One colour per service, the same in every picture (matplotlib's tab10).
SERVICE_COLOURS = {"rmap": "#1f77b4", "pagecache": "#2ca02c", "filesystem": "#ff7f0e", "allocator": "#9467bd",
                   "client": "#7f7f7f"}
# The fault delegation protocol's participants, in the order a fault travels.
PARTICIPANTS = ("rmap", "pagecache", "filesystem", "allocator")
PARTICIPANT_TITLES = {"rmap": "rmap (mm/memory.c)", "pagecache": "pagecache (mm/filemap.c)",
                      "filesystem": "filesystem (fs/iomap)", "allocator": "allocator (mm/page_alloc.c)"}


class PictureError(Exception):
    """A picture that cannot be made here (a missing program), with what to do instead."""


# Traces -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One span of a waterfall: where it starts (ms after the trace began), how deep in the call tree."""
    depth: int
    service: str
    method: str
    start_ms: float
    duration_ms: float
    status: str
    redis_round_trips: int
    gfp: str
    order: str
    events: tuple[str, ...]
    attributes: dict


def bars(tree: TraceTree) -> list[Bar]:
    """The spans in call order (depth first), times relative to the first span's start."""
    if not tree.spans:
        return []
    t0 = min(s.start_unix_ms for s in tree.spans)
    out: list[Bar] = []

    def walk(node, depth: int) -> None:
        s = node.span
        attrs = dict(s.attributes)
        out.append(Bar(depth, s.service, short_name(s.name), s.start_unix_ms - t0, s.duration_ms, s.status,
                       s.redis_round_trips, attrs.get("gfp", ""), attrs.get("order", attrs.get("out.folio.order", "")),
                       tuple(e.name for e in s.events), attrs))
        for child in node.children:
            walk(child, depth + 1)

    for root in tree.roots:
        walk(root, 0)
    return out


def trace_total_ms(rows: list[Bar]) -> float:
    return max((b.start_ms + b.duration_ms for b in rows), default=0.0) or 1.0


def waterfall_text(tree: TraceTree, width: int = 48) -> str:
    """A terminal waterfall: one line per span, a bar of '█' placed on a time axis of ``width`` columns."""
    rows = bars(tree)
    if not rows:
        return "(no spans)"
    total = trace_total_ms(rows)
    label_w = max(2 * b.depth + len(b.service) + len(b.method) + 1 for b in rows)
    lines = [f"trace {tree.trace_id}  {tree.hops} gRPC hops, {tree.redis_round_trips} Redis round trips, "
             f"{total:.2f} ms",
             f"{'':<{label_w}} |0 ms{'':<{width - 4 - len(f'{total:.1f} ms')}}{total:.1f} ms|"]
    for b in rows:
        first = min(int(b.start_ms / total * width), width - 1)
        length = max(1, round(b.duration_ms / total * width))
        length = min(length, width - first)
        bar = " " * first + "█" * length + " " * (width - first - length)
        label = f"{'  ' * b.depth}{b.service} {b.method}"
        extra = " ".join(filter(None, [f"gfp={b.gfp}" if b.gfp else "", f"order={b.order}" if b.order else ""]))
        lines.append(f"{label:<{label_w}} |{bar}| {b.duration_ms:7.2f} ms  redis x{b.redis_round_trips:<2} "
                     f"{b.status}{'  ' + extra if extra else ''}")
        for event in b.events:
            lines.append(f"{'':<{label_w}}  {'':<{first}}! {event}")
    return "\n".join(lines)


def _mermaid_text(text: str) -> str:
    """Text that Mermaid shows as it is (';' ends a statement, '#' starts an entity code)."""
    return re.sub(r"[#;]", lambda m: f"#{ord(m[0])};", text).replace("\n", " ")


_SEQ_ARGS = ("pid", "address", "mapping", "index", "order", "gfp")


def sequence_mermaid(tree: TraceTree) -> str:
    """The trace as a Mermaid sequence diagram: each RPC a request and its reply between the four services,
    the Redis round trips and span events as notes."""
    lines = ["sequenceDiagram", "    autonumber", "    actor user as user (mmsim client)"]
    lines += [f"    participant {p} as {PARTICIPANT_TITLES[p]}" for p in PARTICIPANTS]
    known = set(PARTICIPANTS)

    def who(service: str) -> str:
        return service if service in known else "user"

    def walk(node, caller: str) -> None:
        s = node.span
        me = who(s.service)
        args = ", ".join(f"{k}={_arg(k, s.attributes[k])}" for k in _SEQ_ARGS if k in s.attributes)
        lines.append(f"    {caller}->>+{me}: {_mermaid_text(short_name(s.name).split('/')[-1])}({_mermaid_text(args)})")
        if s.redis_round_trips:
            lines.append(f"    Note right of {me}: Redis x{s.redis_round_trips}")
        for e in s.events:
            lines.append(f"    Note over {me}: {_mermaid_text(e.name)}")
        for child in node.children:
            walk(child, me)
        outcome = s.attributes.get("out.vm_fault") or s.status
        if s.status == "OK" and "out.folio.pfn" in s.attributes:
            outcome += f" folio {int(s.attributes['out.folio.pfn']):#x} order {s.attributes.get('out.folio.order', '0')}"
        lines.append(f"    {me}-->>-{caller}: {_mermaid_text(outcome)} ({s.duration_ms:.2f} ms)")

    for root in tree.roots:
        walk(root, "user")
    return "\n".join(lines) + "\n"


def _arg(key: str, value: str) -> str:
    return f"{int(value):#x}" if key == "address" and value.isdigit() else value


_NBSP = "\u00a0"   # an indent that SVG text keeps


def waterfall_svg(tree: TraceTree) -> str:
    """The waterfall as SVG (matplotlib): a bar per span on a time axis, coloured by service, labelled with
    the RPC, its status and Redis round trips; hovering a bar shows its gfp, order and attributes."""
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415

    rows = bars(tree)
    total = trace_total_ms(rows)
    fig = Figure(figsize=(11, 0.55 * max(len(rows), 1) + 1.6))
    ax = fig.add_subplot()
    for i, b in enumerate(rows):
        colour = SERVICE_COLOURS.get(b.service, "#7f7f7f")
        rect = ax.barh(i, max(b.duration_ms, total / 400), left=b.start_ms, color=colour,
                       edgecolor="black" if b.status != "OK" else colour, height=0.6)[0]
        rect.set_gid(f"span-{i}")
        ax.text(b.start_ms + b.duration_ms + total / 100, i,
                f"{b.status}  redis x{b.redis_round_trips}  {b.duration_ms:.2f} ms", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [f"{_NBSP * 2 * b.depth}{b.service}  {b.method.split('/')[-1]}" for b in rows],
                  fontsize=9, family="monospace", ha="left")
    ax.tick_params(axis="y", pad=230)
    ax.invert_yaxis()
    ax.set_xlim(0, total * 1.35)
    ax.set_xlabel("ms since the trace began")
    ax.set_title(f"trace {tree.trace_id}: {tree.hops} gRPC hops, {tree.redis_round_trips} Redis round trips",
                 fontsize=10)
    seen = [s for s in SERVICE_COLOURS if any(b.service == s for b in rows)]
    ax.legend(handles=[Patch(color=SERVICE_COLOURS[s], label=s) for s in seen], loc="lower right", fontsize=8)
    fig.subplots_adjust(left=0.3, right=0.98)
    tips = {f"span-{i}": _tooltip(b) for i, b in enumerate(rows)}
    return _svg_with_titles(fig, tips)


def _tooltip(b: Bar) -> str:
    shown = {k: v for k, v in sorted(b.attributes.items()) if not k.startswith("net.") and k != "out.trace_id"}
    head = f"{b.service} {b.method}: {b.status}, {b.duration_ms:.2f} ms, redis x{b.redis_round_trips}"
    facts = [f"gfp={b.gfp or '-'}", f"order={b.order or '-'}"]
    return "\n".join([head, "  ".join(facts), *(f"{k}={v}" for k, v in shown.items()), *(f"! {e}" for e in b.events)])


def _svg_with_titles(fig, tips: dict[str, str]) -> str:
    """Save ``fig`` as SVG and add a <title> (the browser's hover tooltip) to each element whose gid is in
    ``tips``."""
    import xml.etree.ElementTree as ET  # noqa: PLC0415

    import matplotlib  # noqa: PLC0415

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "mmsim", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    ns = "http://www.w3.org/2000/svg"
    ET.register_namespace("", ns)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ET.fromstring(buf.getvalue())
    for el in root.iter():
        tip = tips.get(el.get("id", ""))
        if tip is not None:
            title = ET.Element(f"{{{ns}}}title")
            title.text = tip
            el.insert(0, title)
    return ET.tostring(root, encoding="unicode")


# The XArray -------------------------------------------------------------------------------------------------

KIND_COLOURS = {"folio": "#aec7e8", "sibling": "#dbe6f4", "zero": "#fff2a8", "value": "#e5c7f2",
                "reserved": "#d9d9d9", "node": "#ffffff"}
KIND_LEGEND = {"folio": "folio (pointer entry)", "sibling": "sibling of a multi-order entry",
               "zero": "zero entry (a hole)", "value": "value / shadow entry", "reserved": "XA_ZERO_ENTRY (reserved)"}
MARK_LETTERS = {"DIRTY": "D", "WRITEBACK": "W", "TOWRITE": "T"}


def describe_slot(slot) -> str:
    """What a slot holds, as the kernel's xa_dump would call it."""
    if slot.kind == "folio":
        return f"folio {slot.folio.pfn:#x} o{slot.folio.order}"
    if slot.kind == "zero":
        return f"zero o{slot.order}"
    if slot.kind == "value":
        return f"value {slot.value}"
    if slot.kind == "reserved":
        return "XA_ZERO_ENTRY"
    if slot.kind == "sibling":
        return f"sibling of {slot.sibling_of}"
    return "node"


def slot_groups(node) -> list[tuple[int, int, object]]:
    """A node's occupied slots as (first offset, last offset, slot): a run of siblings of one canonical
    slot is one group."""
    groups: list[list] = []
    for slot in node.slots:
        last = groups[-1] if groups else None
        if (slot.kind == "sibling" and last and last[2].kind == "sibling" and last[2].sibling_of == slot.sibling_of
                and last[1] + 1 == slot.offset):
            last[1] = slot.offset
        else:
            groups.append([slot.offset, slot.offset, slot])
    return [tuple(g) for g in groups]


def _node_id(shift: int, index: int) -> str:
    return f"n{shift}_{index:x}"


def _marks(slot) -> str:
    return "".join(MARK_LETTERS.get(m, "?") for m in slot.marks)


def _html(text: str) -> str:
    from html import escape  # noqa: PLC0415

    return escape(text, quote=True)


def xa_dot(tree) -> str:
    """The XArray as Graphviz dot: one record per xa_node (its shift, first index, count and nr_values over
    its occupied slots; runs of empty slots as '…'), an edge from each node slot to its child, entries
    coloured by kind, marks as D/W/T; below a cut tree, a dashed box says how many nodes were left out."""
    import graphviz  # noqa: PLC0415

    dot = graphviz.Digraph("xarray", graph_attr={"rankdir": "TB", "fontname": "Helvetica", "fontsize": "11",
                                                  "label": _title(tree), "labelloc": "t"},
                           node_attr={"shape": "plain", "fontname": "Helvetica", "fontsize": "10"})
    dot.node("xa_head", label=_head_label(tree))
    shown = {(n.shift, n.index) for n in tree.nodes}
    left_out = tree.total_nodes - len(tree.nodes)
    for node in tree.nodes:
        nid = _node_id(node.shift, node.index)
        dot.node(nid, label=_node_label(tree, node))
        if node.shift == tree.root_shift:
            dot.edge("xa_head", nid)
        for slot in node.slots:
            if slot.kind != "node":
                continue
            child = (node.shift - tree.chunk_shift, slot.index)
            if child in shown:
                dot.edge(f"{nid}:s{slot.offset}", _node_id(*child))
            else:
                cut = f"cut_{nid}_{slot.offset}"
                dot.node(cut, label=f"subtree at {slot.index:#x}", shape="box", style="dashed")
                dot.edge(f"{nid}:s{slot.offset}", cut, style="dashed")
    if left_out:
        dot.node("cut_summary", label=f"{left_out} of {tree.total_nodes} nodes below level {tree.levels_shown} "
                                      f"not drawn", shape="note", style="dashed")
    dot.node("legend", label=_legend_label())
    return dot.source


def _title(tree) -> str:
    marks = f", marks {'|'.join(tree.marks)}" if tree.marks else ""
    return (f"XArray of {tree.mapping}: chunk_shift {tree.chunk_shift} ({1 << tree.chunk_shift} slots/node), "
            f"{_count(tree.total_nodes, 'node')}, {_count(tree.levels, 'level')}{marks}")


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _head_label(tree) -> str:
    if tree.head is None:
        text = "xa_head: NULL (empty)"
    elif tree.head.kind == "node":
        text = f"xa_head → node (shift {tree.root_shift})"
    else:
        text = f"xa_head: {describe_slot(tree.head)} at index 0"
    colour = KIND_COLOURS.get(tree.head.kind, "#ffffff") if tree.head else "#ffffff"
    return f'<<TABLE BORDER="1" CELLBORDER="0" BGCOLOR="{colour}"><TR><TD>{_html(text)}</TD></TR></TABLE>>'


def _node_label(tree, node) -> str:
    span = 1 << (node.shift + tree.chunk_shift)
    head = (f"node shift {node.shift} · {node.index:#x}-{node.index + span - 1:#x} · "
            f"count {node.count} · values {node.nr_values}")
    cells, prev = [], -1
    for first, last, slot in slot_groups(node):
        if first > prev + 1:
            cells.append(f'<TD BGCOLOR="#f7f7f7"><FONT COLOR="#999999">… {first - prev - 1}</FONT></TD>')
        where = f"[{first}]" if first == last else f"[{first}-{last}]"
        marks = _marks(slot)
        mark = f' <FONT COLOR="#c00000"><B>{marks}</B></FONT>' if marks else ""
        text = f"{where} {_html(describe_slot(slot))}{mark}"
        cells.append(f'<TD PORT="s{first}" BGCOLOR="{KIND_COLOURS.get(slot.kind, "#ffffff")}">{text}</TD>')
        prev = last
    if prev < (1 << tree.chunk_shift) - 1:
        cells.append(f'<TD BGCOLOR="#f7f7f7"><FONT COLOR="#999999">… {(1 << tree.chunk_shift) - 1 - prev}</FONT></TD>')
    return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
            f'<TR><TD COLSPAN="{len(cells)}" BGCOLOR="#eeeeee"><B>{_html(head)}</B></TD></TR>'
            f'<TR>{"".join(cells)}</TR></TABLE>>')


def _legend_label() -> str:
    rows = "".join(f'<TR><TD BGCOLOR="{KIND_COLOURS[k]}"> </TD><TD ALIGN="LEFT">{_html(v)}</TD></TR>'
                   for k, v in KIND_LEGEND.items())
    rows += '<TR><TD><FONT COLOR="#c00000"><B>D W T</B></FONT></TD><TD ALIGN="LEFT">marks: DIRTY, WRITEBACK, TOWRITE</TD></TR>'
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">{rows}</TABLE>>'


def dot_available() -> bool:
    return shutil.which("dot") is not None


def dot_to_svg(source: str) -> str:
    """Lay out dot source with Graphviz's `dot` program; PictureError when it is not installed."""
    if not dot_available():
        raise PictureError("Graphviz's `dot` program is not installed, so no SVG can be laid out here "
                           "(install it: apt-get install graphviz); --format dot or --format mermaid print the "
                           "picture as text instead")
    import graphviz  # noqa: PLC0415

    return graphviz.Source(source).pipe(format="svg", encoding="utf-8")


def xa_mermaid(tree) -> str:
    """The XArray as a Mermaid flowchart: a box per node, one per occupied slot (sibling runs merged),
    classes by entry kind."""
    lines = ["flowchart TD", f"    %% {_mermaid_comment(_title(tree))}"]
    head = "xa_head: NULL" if tree.head is None else (
        "xa_head" if tree.head.kind == "node" else f"xa_head: {describe_slot(tree.head)}")
    lines.append(f'    xa_head["{_mm_label(head)}"]')
    shown = {(n.shift, n.index) for n in tree.nodes}
    for node in tree.nodes:
        nid = _node_id(node.shift, node.index)
        lines.append(f'    {nid}["{_mm_label(f"node shift {node.shift} @ {node.index:#x} count {node.count}")}"]')
        if node.shift == tree.root_shift:
            lines.append(f"    xa_head --> {nid}")
        for first, last, slot in slot_groups(node):
            if slot.kind == "node":
                child = (node.shift - tree.chunk_shift, slot.index)
                target = _node_id(*child) if child in shown else f"{nid}_cut{first}"
                if child not in shown:
                    lines.append(f'    {target}["subtree at {slot.index:#x} (not drawn)"]:::cut')
                lines.append(f"    {nid} -->|{first}| {target}")
                continue
            sid = f"{nid}_s{first}"
            where = f"[{first}]" if first == last else f"[{first}-{last}]"
            marks = f" {_marks(slot)}" if slot.marks else ""
            lines.append(f'    {sid}["{_mm_label(f"{where} {describe_slot(slot)}{marks}")}"]:::{slot.kind}')
            lines.append(f"    {nid} --- {sid}")
    lines += [f"    classDef {k} fill:{c},stroke:#555" for k, c in KIND_COLOURS.items() if k != "node"]
    lines.append("    classDef cut stroke-dasharray: 4 3")
    return "\n".join(lines) + "\n"


def _mm_label(text: str) -> str:
    return text.replace('"', "#quot;")


def _mermaid_comment(text: str) -> str:
    return text.replace("\n", " ")


# /proc/buddyinfo and struct page ----------------------------------------------------------------------------


def buddyinfo_figure(zones: list[dict], path: str) -> str:
    """Free blocks per order, one bar group per order and a bar per zone (mm/vmstat.c frag_show_print's
    numbers); written to ``path`` (.png or .svg). Returns the path."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    fmt = _image_format(path)
    fig = Figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    orders = max((len(z["free"]) for z in zones), default=11)
    width = 0.8 / max(len(zones), 1)
    for i, z in enumerate(zones):
        xs = [o - 0.4 + width * (i + 0.5) for o in range(len(z["free"]))]
        bars_ = ax.bar(xs, z["free"], width, label=f"Node {z['node']}, zone {z['zone']}")
        ax.bar_label(bars_, labels=[str(n) if n else "" for n in z["free"]], fontsize=7)
    ax.set_xticks(range(orders), [f"{o}\n{_size(4096 << o)}" for o in range(orders)])
    ax.set_xlabel("order (block size)")
    ax.set_ylabel("free blocks")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(0, 3 * max((n for z in zones for n in z["free"]), default=1) or 3)   # room for the labels
    ax.set_title("/proc/buddyinfo: free blocks per order and zone")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path, fmt)
    return path


def _size(nbytes: int) -> str:
    for unit, scale in (("M", 1 << 20), ("K", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes // scale}{unit}"
    return str(nbytes)


def _image_format(path: str) -> str:
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if fmt not in ("png", "svg"):
        raise PictureError(f"{path!r}: the picture is written as .png or .svg, by the file name's suffix")
    return fmt


def _save(fig, path: str, fmt: str) -> None:
    import matplotlib  # noqa: PLC0415

    with matplotlib.rc_context({"svg.hashsalt": "mmsim", "svg.fonttype": "none"}):
        fig.savefig(path, format=fmt, metadata={"Date": None} if fmt == "svg" else None, dpi=110)


# include/linux/mm_types.h struct page (mmsim's 56-byte record, services/allocator/vmemmap.py): the words of
# the five-word union as each member names them.
UNION_WORDS = {
    "page_cache": ("lru.next", "lru.prev", "mapping", "index", "private"),
    "anon": ("lru.next", "lru.prev", "mapping", "index", "private"),
    "page_cache_shared": ("lru.next", "lru.prev", "mapping", "index", "private"),
    "buddy": ("buddy_list", "buddy_list", "", "", "private"),
    "compound_tail": ("compound_head", "", "", "", ""),
    "page_table": ("_pt_pad_1", "pmd_huge_pte", "_pt_pad_2", "pt_mm", "ptl"),
    "slab": ("slab_list.next", "slab_list.prev", "slab_cache", "freelist", "counters"),
    "owner_words": ("_w0", "_w1", "_w2", "_w3", "_w4"),
}
_FIELD_LINE = re.compile(r"^\s*\.(\S+) = (.*?),?$")


def page_fields(text: str) -> dict[str, str]:
    """The ``.field = value`` lines of GetPage's drgn-style text."""
    return {m[1]: m[2] for line in text.splitlines() if (m := _FIELD_LINE.match(line))}


def page_rows(page) -> list[tuple[str, str, str, str, bool]]:
    """(offset, size, field, value, in use by the owner) per word of the struct page record."""
    fields = page_fields(page.text)
    member = page.union_member
    names = UNION_WORDS.get(member, ("", "", "", "", ""))
    typed = "page_type" if page.page_type else "_mapcount"
    rows = [("0", "4", "flags", fields.get("flags", "|".join(page.flags) or "0"), False),
            ("4", "4", typed, fields.get(typed, str(page.mapcount)), False)]
    for i, name in enumerate(names):
        value = fields.get(name, "") if name else ""
        if member == "owner_words" and i < len(page.owner_words):
            value = f"{page.owner_words[i]:#x}"
        rows.append((str(8 + 8 * i), "8", f"w{i}: {name or '-'}", value, bool(name and value)))
    rows += [("48", "4", "_refcount", str(page.refcount), False), ("52", "4", "memcg_data", str(page.memcg), False)]
    return rows


def struct_page_figure(page, path: str) -> str:
    """One struct page as a table of its words (matplotlib): offset, size, the field each word is to the
    union member in use, its value; the owner's fields highlighted. Written to ``path`` (.png or .svg)."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    fmt = _image_format(path)
    rows = page_rows(page)
    fig = Figure(figsize=(10, 0.3 * len(rows) + 0.9))
    ax = fig.add_subplot()
    ax.axis("off")
    cells = [[off, size, name, (value if len(value) <= 60 else value[:57] + "...")] for off, size, name, value, _ in rows]
    table = ax.table(cellText=cells, colLabels=["offset", "bytes", "field", "value"], loc="center",
                     colWidths=[0.08, 0.07, 0.25, 0.6], cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.4)
    owner = SERVICE_COLOURS["pagecache"] if page.union_member.startswith(("page_cache", "anon")) else "#ffbb78"
    for r, (*_, used) in enumerate(rows, start=1):
        for c in range(4):
            if used:
                table[r, c].set_facecolor(owner)
                table[r, c].set_alpha(0.45)
            elif 3 <= r <= 7:
                table[r, c].set_facecolor("#f2f2f2")
    for c in range(4):
        table[0, c].set_facecolor("#dddddd")
    ax.set_title(f"struct page of pfn {page.pfn:#x} (node {page.node}, zone {page.zone}): union member in use: "
                 f"{page.union_member or 'none'}; folio order {page.order}", fontsize=10)
    fig.tight_layout()
    _save(fig, path, fmt)
    return path
