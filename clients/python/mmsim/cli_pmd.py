"""`mmsim smaps`: /proc/PID/smaps, the lines mmsim keeps (Size, Rss, FilePmdMapped per VMA), where the file THPs
that one PMD maps (do_set_pmd) show.

    mmsim smaps 1                               mmsim smaps 1 --json
"""

from __future__ import annotations

from mmsim.cli_base import Out, Pid, app, command, connect, process_handle


@command(app, "smaps", panel="Processes")
def smaps(pid: Pid) -> Out:
    """/proc/PID/smaps: per VMA its maps line, Size, Rss and FilePmdMapped (file THPs mapped by one PMD each).

    Example: mmsim smaps 1
    """
    with connect() as mm:
        r = process_handle(mm, pid).smaps()
    return Out(r.to_dict(), r.text.rstrip("\n") or f"pid {pid} has no VMAs")
