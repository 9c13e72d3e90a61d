"""`mmsim web`: a live view of the simulated machine, server-side rendered (Starlette + Jinja2, htmx polling).

Every panel is a fragment that htmx reloads: the services' health and the profile; /proc/buddyinfo (numbers
and a bar chart) and /proc/meminfo; the processes seen in recent faults and their /proc/PID/maps; a file's
XArray drawn by Graphviz; the recent faults with the newest one's waterfall. With ``allow_writes`` a few
forms change the machine: set up a file and a process, fault an address, truncate a file; each answer fires
the htmx event ``faulted`` so the XArray and the fault list redraw at once.

It talks to the cluster only through mmsim.client (one Cluster for the app). Templates autoescape every
value; the SVGs inlined come from Graphviz and matplotlib, which escape the text they draw. POSTs are refused
unless writes are allowed and the request comes from htmx (the HX-Request header, which a cross-site form
cannot set), and only the Host names the server was bound to are served (no DNS rebinding).
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mmsim import pictures
from mmsim.cli_inspect import parse_buddyinfo

HERE = Path(__file__).parent
MAPPING_RE = re.compile(r"[A-Za-z0-9_-]{1,32}/\d+")
RECENT_FAULTS = 8
XA_MAX_NODES = 64


class BadInput(ValueError):
    """A form field that does not parse; the message names it."""


def _int(form, name: str, lo: int = 0, hi: int = (1 << 64) - 1) -> int:
    text = str(form.get(name, "")).strip()
    try:
        value = int(text, 0)
    except ValueError:
        raise BadInput(f"{name}: {text!r} is not a number (decimal or 0x hex)") from None
    if not lo <= value <= hi:
        raise BadInput(f"{name}: {text} is out of range {lo}..{hi:#x}")
    return value


def _mapping(text: str) -> str:
    text = text.strip()
    if not MAPPING_RE.fullmatch(text):
        raise BadInput(f"mapping: {text!r} is not a mapping id FS/INO (e.g. xfs0/1)")
    return text


@dataclass
class State:
    """What the view remembers between requests: the cluster, the processes and files it has seen, and the
    last pictures it laid out (so polling does not run `dot` or matplotlib when nothing changed)."""

    connect: Callable
    allow_writes: bool
    cluster: object = None
    pids: set[int] = field(default_factory=set)
    mappings: list[str] = field(default_factory=list)
    setups: int = 0
    cache: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mm(self):
        with self.lock:
            if self.cluster is None:
                self.cluster = self.connect()
            return self.cluster

    def remember(self, mapping: str = "", pid: int = 0) -> None:
        with self.lock:
            if mapping and mapping not in self.mappings:
                self.mappings.insert(0, mapping)
            if pid:
                self.pids.add(pid)

    def cached(self, key: str, make: Callable[[], str]) -> str:
        """``make()`` once per key (the picture's source); the last 32 kept."""
        with self.lock:
            if key in self.cache:
                return self.cache[key]
        value = make()
        with self.lock:
            self.cache[key] = value
            while len(self.cache) > 32:
                self.cache.pop(next(iter(self.cache)))
        return value


def create_app(connect: Callable, allow_writes: bool = False, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
               ) -> Starlette:
    """The web app; ``connect()`` returns a connected mmsim.client.Cluster (called on the first request)."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    state = State(connect, allow_writes)

    def page(name: str, **ctx) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(allow_writes=state.allow_writes, **ctx))

    def guarded(fn):
        """A fragment: the client's errors (the stack down, NOT_FOUND, ...) become a message in the panel."""

        def run(request: Request):
            from mmsim import errors  # noqa: PLC0415

            try:
                return fn(request)
            except BadInput as exc:
                return page("error.html", code="INVALID_ARGUMENT", message=str(exc))
            except errors.MmsimError as exc:
                return page("error.html", code=exc.code, message=exc.message)
        return run

    def index(request: Request):
        return page("index.html", mapping=request.query_params.get("mapping", ""))

    def health(request: Request):
        from mmsim import stack  # noqa: PLC0415
        from mmsim.runtime import profiles  # noqa: PLC0415

        settings = state.mm().settings
        rows = [(name, addr, stack.health(addr)) for name, addr in settings.addrs.items()]
        return page("health.html", rows=rows, profile=profiles.get(settings.profile).to_dict())

    def buddyinfo(request: Request):
        mm = state.mm()
        text = mm.allocator.buddyinfo()
        zones = parse_buddyinfo(text)
        chart = state.cached("buddy:" + text, lambda: _svg_of(lambda path: pictures.buddyinfo_figure(zones, path)))
        return page("buddyinfo.html", zones=zones, chart=chart, text=text)

    def meminfo(request: Request):
        return page("meminfo.html", text=state.mm().allocator.meminfo_text())

    def procs(request: Request):
        mm = state.mm()
        rows = []
        for pid in sorted(state.pids):
            try:
                rows.append((pid, mm.process(pid).maps()))
            except Exception as exc:  # noqa: BLE001 - a process that exited since: say so, keep the others
                rows.append((pid, [f"({getattr(exc, 'code', type(exc).__name__)}: gone)"]))
        return page("procs.html", rows=rows)

    def xarray(request: Request):
        mm = state.mm()
        mapping = request.query_params.get("mapping", "").strip() or (state.mappings[0] if state.mappings else "")
        if not mapping:
            return page("xarray.html", mapping="", svg="", digest="", tree=None, source="", mappings=state.mappings)
        mapping = _mapping(mapping)
        tree = mm.pagecache.xa_tree(mapping, XA_MAX_NODES)
        state.remember(mapping=mapping)
        source = pictures.xa_dot(tree)
        digest = hashlib.sha1(source.encode()).hexdigest()[:16]
        svg = state.cached("xa:" + source, lambda: _inline(pictures.dot_to_svg(source))) if pictures.dot_available() else ""
        return page("xarray.html", mapping=mapping, svg=svg, digest=digest, tree=tree, source=source,
                    mappings=state.mappings)

    def faults(request: Request):
        mm = state.mm()
        ids = mm.traces(RECENT_FAULTS, "fault")
        trees = [mm.trace(i, timeout=2.0) for i in ids]
        for tree in trees:
            for span in tree.spans:
                if span.attributes.get("pid", "").isdigit():
                    state.remember(pid=int(span.attributes["pid"]))
                if MAPPING_RE.fullmatch(span.attributes.get("mapping", "")):
                    state.remember(mapping=span.attributes["mapping"])
        newest = trees[0] if trees else None
        svg = state.cached("trace:" + newest.trace_id, lambda: pictures.waterfall_svg(newest)) if newest else ""
        return page("faults.html", trees=trees, newest=newest, svg=svg, summary=_summary,
                    waterfall=pictures.waterfall_text)

    def trace(request: Request):
        trace_id = request.path_params["trace_id"]
        if not re.fullmatch(r"[0-9a-f]{32}", trace_id):
            raise BadInput(f"trace id {trace_id!r} is not 32 lowercase hex digits")
        tree = state.mm().trace(trace_id, timeout=2.0)
        return page("trace.html", tree=tree, svg=pictures.waterfall_svg(tree), bars=pictures.bars(tree),
                    mermaid=pictures.sequence_mermaid(tree), text=tree.render(), waterfall=pictures.waterfall_text(tree))

    def writes(fn):
        async def run(request: Request):
            if not state.allow_writes:
                return Response("writes are off: start `mmsim web --allow-writes` to use the forms", 403)
            if request.headers.get("hx-request") != "true":
                return Response("forms are sent by the page (htmx), not from elsewhere", 403)
            form = await request.form()
            from starlette.concurrency import run_in_threadpool  # noqa: PLC0415

            response = await run_in_threadpool(guarded(lambda r: fn(form)), request)
            response.headers["HX-Trigger-After-Settle"] = "faulted"   # after the form's own swaps
            return response
        return run

    def setup(form):
        """A scenario step: a file written, synced and dropped from the cache, mapped by a new process."""
        mm = state.mm()
        with state.lock:
            state.setups += 1
            n = state.setups
        fs = mm.mkfs(f"web{n}", block_size=16384)
        f = fs.create("/demo")
        f.write(0, b"mmsim web " * 26000)          # 260 KB: folios of several orders
        f.fsync()
        f.fadvise("dontneed")
        proc = mm.spawn(f"web{n}")
        vma = proc.mmap(f, 1 << 20)
        state.remember(mapping=f.mapping, pid=proc.pid)
        return page("setup.html", pid=proc.pid, mapping=f.mapping, start=vma.start, end=vma.end)

    def fault(form):
        mm = state.mm()
        pid, address = _int(form, "pid", 1, (1 << 32) - 1), _int(form, "address")
        write = form.get("write") == "on"
        r = mm.process(pid).fault(address, write=write)
        state.remember(pid=pid)
        tree = mm.trace(r.trace_id)
        for span in tree.find("PageCacheService/Fault"):
            state.remember(mapping=span.attributes.get("mapping", ""))
        return page("fault.html", r=r, tree=tree, svg=pictures.waterfall_svg(tree), bars=pictures.bars(tree),
                    pid=pid, next_address=address + (1 << 16))

    def truncate(form):
        mm = state.mm()
        mapping, size = _mapping(str(form.get("mapping", ""))), _int(form, "size")
        r = mm.file(mapping).truncate(size)
        state.remember(mapping=mapping)
        return page("truncate.html", mapping=mapping, size=size, r=r.to_dict())

    routes = [
        Route("/", index),
        Route("/part/health", guarded(health)),
        Route("/part/buddyinfo", guarded(buddyinfo)),
        Route("/part/meminfo", guarded(meminfo)),
        Route("/part/procs", guarded(procs)),
        Route("/part/xarray", guarded(xarray)),
        Route("/part/faults", guarded(faults)),
        Route("/trace/{trace_id}", guarded(trace)),
        Route("/act/setup", writes(setup), methods=["POST"]),
        Route("/act/fault", writes(fault), methods=["POST"]),
        Route("/act/truncate", writes(truncate), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))])


def _summary(tree) -> str:
    entry = next((s for s in tree.spans if s.entry), tree.spans[0] if tree.spans else None)
    if entry is None:
        return "(no spans)"
    outcome = entry.attributes.get("out.vm_fault", entry.status)
    return (f"{outcome} pid {entry.attributes.get('pid', '?')} at "
            f"{int(entry.attributes.get('address', '0')):#x}: {tree.hops} hops, {tree.redis_round_trips} Redis "
            f"round trips, {entry.duration_ms:.1f} ms")


def _svg_of(draw: Callable[[str], str]) -> str:
    """A matplotlib picture drawn to a temporary .svg file, as text to inline."""
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="mmsim-web-") as tmp:
        path = str(Path(tmp) / "picture.svg")
        draw(path)
        return _inline(Path(path).read_text())


def _inline(svg: str) -> str:
    """An SVG document as an element to put in HTML (without its XML declaration and doctype)."""
    return svg[svg.index("<svg"):]
