"""`mmsim lru`: the LRU lists (issue 10), anonymous and file, and which of them reclaim scans.

    mmsim lru          mmsim lru --json
"""

from __future__ import annotations

from mmsim.cli_base import Out, app, command, connect, table


@command(app, "lru", panel="Inspect")
def lru() -> Out:
    """The pages on each LRU list of the machine (inactive/active anon and file, unevictable; pages and kB),
    and get_scan_count's balance: SCAN_FILE, since there is no swap, so reclaim takes file pages only and
    anonymous pages stay until their process frees them or the OOM killer does.

    Example: mmsim lru --json
    """
    with connect() as mm:
        lists = mm.allocator.lru()
    rows = [[name, getattr(lists, name), getattr(lists, name) * 4] for name in lists.LISTS]
    title = f"{lists.scan_balance}: no swap, reclaim scans the file lists only"
    return Out(lists.to_dict(), lambda: table(["list", "pages", "kB"], rows, title=title))
