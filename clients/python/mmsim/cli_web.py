"""`mmsim web`: the live web view (mmsim.web.app), served by uvicorn until Ctrl-C.

    mmsim web                       http://127.0.0.1:8765/, read-only
    mmsim web --port 9000 --allow-writes

Starlette, Jinja2 and uvicorn are imported when the command runs, not when `mmsim` starts.
"""

from __future__ import annotations

import sys
from typing import Annotated

from mmsim.cli_base import Out, app, command, connect, number, opt

DEFAULT_PORT = 8765


@command(app, "web", panel="Inspect")
def web(
    port: Annotated[int, opt(f"TCP port to serve on (1..65535, e.g. {DEFAULT_PORT})", "--port",
                             parser=number(1, 65535), metavar="PORT")] = DEFAULT_PORT,
    host: Annotated[str, opt("address to bind: 127.0.0.1 (the default) keeps the view on this machine; "
                             "0.0.0.0 serves every interface (as the compose service does)", "--host",
                             metavar="HOST")] = "127.0.0.1",
    allow_writes: Annotated[bool, opt("show the forms that change the machine (set up a file and a process, "
                                      "fault, truncate); without it the view only looks", "--allow-writes")] = False,
) -> Out:
    """A live view in the browser: health and profile, /proc/buddyinfo and meminfo, processes and their maps,
    a file's XArray redrawn after each fault, the recent faults as waterfalls; forms behind --allow-writes.

    Example: mmsim web --port 8765 --allow-writes
    """
    import uvicorn  # noqa: PLC0415

    from mmsim.web.app import create_app  # noqa: PLC0415

    hosts = ("127.0.0.1", "localhost") if host in ("127.0.0.1", "localhost") else ("*",)
    sys.stderr.write(f"mmsim web: serving http://{host}:{port}/ ({'writes allowed' if allow_writes else 'read-only'}"
                     "); Ctrl-C stops\n")
    uvicorn.run(create_app(connect, allow_writes, hosts), host=host, port=port, log_level="warning")
    return Out({"host": host, "port": port, "stopped": True}, "mmsim web: stopped")
