"""docs/experiments.md: every experiment run with --quick (seed 0), its tables and plots, one section each.

``make experiments-docs`` (``mmsim experiment docs``) regenerates the page and its folder
docs/experiments/NAME/ (report.md, section.md, summary.json, CSV, PNG); both are committed. ``--only NAME``
runs just those experiments again and reassembles the page from every experiment's section.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mmsim import experiments
from mmsim.experiments.base import Report, markdown, run_experiment

HEADER = """# Experiments: the LSFMM 2018 to-do list, measured

Each section is one `mmsim experiment run NAME --quick` on a 2-core machine, as `make experiments-docs`
produced it (seed 0). Its folder under `experiments/NAME/` holds the report, the raw CSV and the plots. The same
seed gives the same numbers (the measured columns, wall clock and Redis bytes, aside):
`tests/integration/test_experiments.py` checks it.

| experiment | measures | seconds (--quick) |
|---|---|---|
"""


def build(out: Path, only: list[str] | None = None) -> list[Report]:
    reports = []
    for name in only or experiments.NAMES:
        module = experiments.get(name)
        folder = out / "experiments" / name
        report = run_experiment(module, quick=True, seed=0, out_dir=folder)
        reports.append(report)
        (folder / "section.md").write_text(markdown(report, module, heading="##", images=f"experiments/{name}/"))
        (folder / "summary.json").write_text(json.dumps({"name": name, "title": report.title,
                                                         "elapsed_s": round(report.elapsed_s, 1)}) + "\n")
    assemble(out)
    return reports


def assemble(out: Path) -> None:
    """experiments.md from the sections present, in the registry's order."""
    rows, sections = [], []
    for name in experiments.NAMES:
        folder = out / "experiments" / name
        if not (folder / "section.md").exists():
            continue
        s = json.loads((folder / "summary.json").read_text())
        rows.append(f"| [{name}](#{name}-{_anchor(s['title'])}) | {s['title']} | {s['elapsed_s']:.0f} |\n")
        sections.append((folder / "section.md").read_text())
    (out / "experiments.md").write_text(HEADER + "".join(rows) + "\n" + "\n".join(sections))


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")
