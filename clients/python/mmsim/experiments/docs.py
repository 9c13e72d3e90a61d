"""docs/experiments.md: every experiment run with --quick (seed 0), its tables and plots, one section each.

``make experiments-docs`` (``mmsim experiment docs``) regenerates the page and its folder
docs/experiments/NAME/ (report.md, CSV, PNG); both are committed.
"""

from __future__ import annotations

from pathlib import Path

from mmsim import experiments
from mmsim.experiments.base import Report, markdown, run_experiment

HEADER = """# Experiments: the LSFMM 2018 to-do list, measured

Each section is one `mmsim experiment run NAME --quick` on a 2-core machine, as `make experiments-docs`
produced it (seed 0). Its folder under `experiments/NAME/` holds the report, the raw CSV and the plots. The same
seed gives the same numbers (the measured columns, wall clock and Redis bytes, aside): `tests/integration/test_experiments.py` checks it.

| experiment | measures | seconds (--quick) |
|---|---|---|
"""


def build(out: Path, only: list[str] | None = None) -> list[Report]:
    reports, sections = [], []
    for name in only or experiments.NAMES:
        module = experiments.get(name)
        folder = out / "experiments" / name
        report = run_experiment(module, quick=True, seed=0, out_dir=folder)
        reports.append(report)
        sections.append(markdown(report, module, heading="##", images=f"experiments/{name}/"))
    if only is None:
        rows = "".join(f"| [{r.name}](#{r.name}-{_anchor(r.title)}) | {r.title} | {r.elapsed_s:.0f} |\n" for r in reports)
        (out / "experiments.md").write_text(HEADER + rows + "\n" + "\n".join(sections))
    return reports


def _anchor(title: str) -> str:
    import re  # noqa: PLC0415

    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")
