"""`mmsim` pictures: a trace as a waterfall or a sequence diagram, a mapping's XArray as a tree, /proc/buddyinfo
as a bar chart, a struct page as its words.

    mmsim trace show ID --format waterfall      mmsim xa draw xfs0/1 --format svg -o xa.svg
    mmsim trace last --format mermaid           mmsim proc buddyinfo --plot buddy.png
    mmsim trace show ID --format svg -o t.svg   mmsim page 0x1000 --draw page.svg

The drawing is mmsim.pictures' (matplotlib, Graphviz, Mermaid text), imported when a picture is asked for, so
`mmsim --help` loads none of those libraries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from mmsim.cli_base import EXIT_ERROR, Mapping, Out, choice, command, connect, fail, number, opt
from mmsim.cli_inspect import Output, xa_app

XA_FORMATS = ("svg", "dot", "mermaid")


def _written(path: str, text: str, data: dict) -> Out:
    """``text`` on stdout, or into ``path`` (then stdout says where)."""
    if not path:
        return Out({**data, "text": text}, text)
    Path(path).write_text(text)
    return Out({**data, "path": path}, f"wrote {path}")


def _picture(make) -> str:
    """Run a renderer; a picture that cannot be made here (no `dot` program) is an error that says why."""
    from mmsim.pictures import PictureError  # noqa: PLC0415

    try:
        return make()
    except PictureError as exc:
        raise fail(str(exc), EXIT_ERROR) from None


def trace_out(tree, fmt: str, output: str) -> Out:
    """`mmsim trace show/last --format`: the tree as text (the default), or one of the pictures."""
    from mmsim import pictures  # noqa: PLC0415

    data = tree.to_dict()
    if fmt in ("", "tree"):
        return _written(output, tree.render(), data) if output else Out(data, tree.render())
    render = {"waterfall": pictures.waterfall_text, "mermaid": pictures.sequence_mermaid,
              "svg": pictures.waterfall_svg}[fmt]
    return _written(output, render(tree), {"trace_id": tree.trace_id, "format": fmt})


@command(xa_app, "draw")
def xa_draw(
    mapping: Mapping,
    fmt: Annotated[str, opt("svg (laid out by Graphviz's dot), dot (Graphviz source) or mermaid (a flowchart)",
                            "--format", parser=choice(*XA_FORMATS), metavar="FORMAT")] = "svg",
    output: Output = "",
    max_nodes: Annotated[int, opt("draw at most this many nodes, whole levels from the root (1..4096)",
                                  "--max-nodes", parser=number(1, 4096), metavar="N")] = 64,
) -> Out:
    """The XArray as a tree: nodes with their shift and slots, multi-order entries and their siblings, folio,
    zero, value and reserved entries in their own colours, marks as D/W/T; a large tree is drawn to the levels
    that fit in --max-nodes, with what was left out said.

    Example: mmsim xa draw xfs0/1 --format svg -o xa.svg
    """
    from mmsim import pictures  # noqa: PLC0415

    with connect() as mm:
        tree = mm.pagecache.xa_tree(mapping, max_nodes)
    source = pictures.xa_mermaid(tree) if fmt == "mermaid" else pictures.xa_dot(tree)
    text = _picture(lambda: pictures.dot_to_svg(source)) if fmt == "svg" else source
    return _written(output, text, {"mapping": mapping, "format": fmt or "svg", "total_nodes": tree.total_nodes,
                                   "nodes_drawn": len(tree.nodes), "levels": tree.levels,
                                   "levels_drawn": tree.levels_shown})


def buddyinfo_plot(zones: list[dict], path: str) -> str:
    from mmsim import pictures  # noqa: PLC0415

    return _picture(lambda: pictures.buddyinfo_figure(zones, path))


def page_draw(page, path: str) -> str:
    from mmsim import pictures  # noqa: PLC0415

    return _picture(lambda: pictures.struct_page_figure(page, path))
