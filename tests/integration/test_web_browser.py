"""`mmsim web` in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, against a
real stack of its own.

The page loads with every panel; "Set up a file and a process" from the page, then "fault": the answer is a
waterfall with spans from all four services, the recent-faults panel shows that trace, and the XArray drawing
changes (its digest, a hash of the dot source). A screenshot of the page is saved (MMSIM_PICTURES_DIR, as
`make pictures` sets it, or the test's temporary directory).

The server runs in this process on a socket bound before it starts, so the browser's first request waits in
the listen backlog instead of racing the start-up. Skipped, saying why, where Chromium or Playwright is not
installed (`apt-get install chromium`; .ci/run installs it).
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from mmsim.client import Cluster

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 120_000      # a bound for a loaded machine, not a timing assumption

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium "
                                                            "(.ci/run installs it) to run the browser test"),
    pytest.mark.timeout(600),
]


@pytest.fixture(scope="module")
def web_url(own_stack_settings):
    import uvicorn  # noqa: PLC0415

    from mmsim.web.app import create_app  # noqa: PLC0415

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    app = create_app(lambda: Cluster.connect(own_stack_settings), allow_writes=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    """Chromium with a new empty profile, once for the module."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in .[dev])")
    with tempfile.TemporaryDirectory(prefix="mmsim-chromium-") as profile, sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=ARGS, headless=True,
                                                        viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(WAIT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture()
def browser_page(browser):
    page = browser.new_page()
    yield page
    page.close()


def _pictures_dir(tmp_path: Path) -> Path:
    out = Path(os.environ.get("MMSIM_PICTURES_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_a_fault_from_the_page_draws_its_waterfall_and_changes_the_xarray(web_url, browser_page, tmp_path):
    page = browser_page
    page.goto(web_url + "/")
    for panel in ("#health", "#buddyinfo", "#meminfo", "#faults", "#procs"):
        page.wait_for_selector(f"{panel} h2")
    page.wait_for_selector("#health td.ok")                        # the services answer SERVING
    page.wait_for_selector("#buddyinfo .chart svg")

    page.click("#setup")
    page.wait_for_selector("#result p.ok")
    mapping = page.input_value("#xa-mapping")
    assert mapping, "the set-up names its file in the XArray panel"
    page.wait_for_selector(f'#xarray .xa[data-mapping="{mapping}"]')
    before = page.get_attribute("#xarray .xa", "data-digest")

    page.click("#fault")
    result = page.wait_for_selector("#result .fault-result")
    trace_id = result.get_attribute("data-trace")
    services = {li.get_attribute("data-service") for li in page.query_selector_all("#result li.span")}
    assert services == {"rmap", "pagecache", "filesystem", "allocator"}, services
    assert page.query_selector("#result .waterfall svg title") is not None, "hover text on the bars"
    assert "VM_FAULT_MAJOR" in result.inner_text()

    page.wait_for_selector(f'#faults .waterfall[data-trace="{trace_id}"] svg')
    page.wait_for_function("before => { const x = document.querySelector('#xarray .xa');"
                           " return x && x.dataset.digest !== before; }", arg=before)
    assert "folio" in page.inner_text("#xarray")
    page.wait_for_selector("#procs pre")                           # the process's /proc/PID/maps

    shot = _pictures_dir(tmp_path) / "web.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_the_page_escapes_what_it_shows_and_refuses_forms_from_elsewhere(web_url, browser_page):
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    page = browser_page
    page.goto(web_url + "/?mapping=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    page.wait_for_selector("#xarray .error")
    assert page.query_selector("#xarray img") is None              # shown as text, not made an element
    assert "<img src=x" in page.inner_text("#xarray")
    request = urllib.request.Request(web_url + "/act/fault", data=b"pid=1&address=0", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:         # no HX-Request header: not from the page
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 403
