"""The README's walk-through, run verbatim: every ```sh and ```python block between the walkthrough markers.

The Python blocks run in order in one interpreter (a session, as the README says), then the shell blocks in
order in one bash (`set -euo pipefail`, the venv's `mmsim` on PATH), both against a stack of their own. A
failure names the README line of the block that failed. A few outputs the prose promises are checked too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```(sh|python)\n(.*?)^```\n", re.S | re.M)


def blocks(kind: str) -> list[tuple[int, str]]:
    """(README line, source) of each ``kind`` block of the walk-through, in order."""
    text = README.read_text()
    begin, end = text.index("<!-- walkthrough:begin -->"), text.index("<!-- walkthrough:end -->")
    return [(text.count("\n", 0, m.start()) + 2, m.group(2)) for m in FENCE.finditer(text, begin, end)
            if m.group(1) == kind]


def run(settings, args: list[str], stdin: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(args, input=stdin, env=env, capture_output=True, text=True, timeout=840)


def test_the_walkthrough_has_both_kinds_for_every_step():
    assert len(blocks("sh")) == len(blocks("python")) >= 10


def test_python_blocks(own_stack_settings):
    # each block compiled under its README line, so a traceback points into the README
    program = "\n".join(f"exec(compile({src!r}, 'README.md:{line}', 'exec'))" for line, src in blocks("python"))
    out = run(own_stack_settings, [sys.executable, "-"], program)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    assert "VM_FAULT_MAJOR|VM_FAULT_LOCKED major 2" in out.stdout
    assert "lockdep" in out.stdout


@pytest.mark.timeout(900)       # some 70 `mmsim` processes, each a Python start-up: minutes on a loaded machine
def test_shell_blocks(own_stack_settings):
    script = "set -euo pipefail\n" + "".join(f"echo '### README.md:{line}' >&2\n{src}" for line, src in blocks("sh"))
    out = run(own_stack_settings, ["bash", "-s"], script)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    assert "Traceback" not in out.stderr
    text = out.stdout
    assert "VM_FAULT_MAJOR|VM_FAULT_LOCKED  major fault" in text and "5 gRPC hops" in text
    assert "spurious fault" in text and "hellohello" in text
    assert "VM_FAULT_SIGBUS" in text and "exit 135" in text and "exit 139" in text
    assert "the zero page" in text
    assert "possible circular locking dependency" in text
    assert re.search(r"^hugetlb: entries, nodes, Redis bytes: \d+ \d+ \d+$", text, re.M)
    assert "killed by the mapcount limit" in text and "pinned the folio" in text
    assert re.search(r"^flags\s+PG_uptodate", text, re.M)
