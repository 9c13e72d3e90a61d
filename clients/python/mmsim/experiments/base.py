"""What every experiment shares: the lab (stacks per cluster configuration), tables, plots and the report.

An experiment is a module with ``NAME``, ``TITLE``, ``TODO`` (the to-do list item it measures), ``COMPARES``
(its variants in a few words) and ``run(lab, quick) -> Outcome``. It runs scenarios (``lab.run``: the same
models as the scenario files) or typed-client calls on ``lab.cluster(config)``, and returns tables (a
table's ``measured`` columns are this machine's figures, wall clock or Redis's memory accounting, left
out of the fingerprint that the determinism test compares), plots (functions drawing on matplotlib axes) and notes. :func:`run_experiment` times it and
writes the results folder: ``report.md`` (configuration, seed, versions, the tables, the plots, the notes,
the raw CSV), one CSV per table and one PNG per plot.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mmsim import scenario as sc


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    measured: tuple[str, ...] = ()      # figures of this machine (wall clock; Redis's allocator via MEMORY
    #                                     USAGE): shown, not part of the fingerprint

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")[:48]

    def fingerprint(self) -> list[list[Any]]:
        keep = [i for i, c in enumerate(self.columns) if c not in self.measured]
        return [[row[i] for i in keep] for row in self.rows]

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        w.writerows(self.rows)
        return buf.getvalue()

    def markdown(self) -> str:
        def cell(v: Any) -> str:
            return (f"{v:.3g}" if isinstance(v, float) else str(v)).replace("|", "\\|")
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "measured": list(self.measured)}


@dataclass
class Plot:
    filename: str                        # e.g. "fallback-rate.png"
    caption: str
    draw: Callable[[Any], None]          # draw(fig): matplotlib Figure
    size: tuple[float, float] = (7.0, 4.0)


@dataclass
class Outcome:
    tables: list[Table]
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)       # Markdown paragraphs (traces as code blocks)
    config: dict = field(default_factory=dict)           # variants and parameters, for the report


class Lab:
    """One stack per distinct cluster configuration, started at first use, reset before every scenario."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self._stacks: dict[tuple, tuple[Any, Any, Any]] = {}
        self.configs: list[dict] = []

    def cluster(self, config: sc.ClusterConfig | None = None):
        from mmsim.client import Cluster  # noqa: PLC0415

        config = config or sc.ClusterConfig()
        key = tuple(sorted(config.env().items()))
        if key not in self._stacks:
            for other in list(self._stacks):      # one stack at a time: 2 cores
                self._close(other)
            cm = sc.private_stack(config)
            settings = cm.__enter__()
            self._stacks[key] = (cm, settings, Cluster.connect(settings))
            self.configs.append(config.model_dump())
        return self._stacks[key][2]

    def run(self, data: dict, seed: int | None = None, **kw) -> sc.ScenarioResult:
        """Build a scenario from ``data`` (the scenario-file schema), replay it on its cluster (reset first)."""
        return self.replay(data, seed, **kw).result

    def replay(self, data: dict, seed: int | None = None, **kw) -> sc.Runner:
        """Like run, but the Runner (its ``result``, and its handles: ``files``, ``procs``, ``fault_results``)."""
        scenario = sc.from_dict(data)
        runner = sc.Runner(self.cluster(scenario.cluster), scenario, self.seed if seed is None else seed, **kw)
        runner.run()
        return runner

    def rng(self, salt: str) -> random.Random:
        return random.Random(f"{self.seed}:{salt}")

    def _close(self, key: tuple) -> None:
        cm, _, mm = self._stacks.pop(key)
        mm.close()
        cm.__exit__(None, None, None)

    def close(self) -> None:
        for key in list(self._stacks):
            self._close(key)


@dataclass
class Report:
    name: str
    title: str
    seed: int
    quick: bool
    elapsed_s: float
    outcome: Outcome
    files: list[str]

    def fingerprint(self) -> dict:
        return {t.title: t.fingerprint() for t in self.outcome.tables}

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "seed": self.seed, "quick": self.quick,
                "elapsed_s": round(self.elapsed_s, 2), "tables": [t.to_dict() for t in self.outcome.tables],
                "notes": self.outcome.notes, "files": self.files}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    out = {"python": platform.python_version()}
    for pkg in ("mmsim", "grpcio", "redis", "pydantic", "matplotlib"):
        try:
            out["redis-py" if pkg == "redis" else pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "-"
    return out


def run_experiment(module, quick: bool = False, seed: int = 0, out_dir: str | Path | None = None,
                   lab: Lab | None = None) -> Report:
    """Run one experiment module and, with ``out_dir``, write its results folder."""
    own = lab is None
    lab = lab or Lab(seed)
    t0 = time.monotonic()
    try:
        outcome = module.run(lab, quick)
    finally:
        if own:
            lab.close()
    elapsed = time.monotonic() - t0
    report = Report(module.NAME, module.TITLE, seed, quick, elapsed, outcome, [])
    outcome.config.setdefault("clusters", lab.configs)
    if out_dir is not None:
        report.files = write(report, module, Path(out_dir))
    return report


def write(report: Report, module, out: Path) -> list[str]:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for t in report.outcome.tables:
        (out / f"{t.slug}.csv").write_text(t.csv())
        files.append(f"{t.slug}.csv")
    for p in report.outcome.plots:
        plt.rcParams.update({"font.size": 9, "svg.hashsalt": "mmsim"})
        fig = plt.figure(figsize=p.size, dpi=100)
        p.draw(fig)
        fig.tight_layout()
        fig.savefig(out / p.filename, metadata={"Software": None})
        plt.close(fig)
        files.append(p.filename)
    (out / "report.md").write_text(markdown(report, module))
    files.append("report.md")
    return files


def markdown(report: Report, module, heading: str = "#", images: str = "") -> str:
    """The report: what it measures, how it was run, the tables, the plots, the notes and the raw CSV.
    ``images``: the prefix of the plots' paths (their folder, seen from where the Markdown lives)."""
    o = report.outcome
    cmd = f"mmsim experiment run {report.name}{' --quick' if report.quick else ''} --seed {report.seed}"
    lines = [f"{heading} {report.name}: {report.title}", "", f"*To-do item:* {module.TODO}", "",
             f"*Compares:* {module.COMPARES}", "",
             f"Run as `{cmd}` in {report.elapsed_s:.1f} s; seed {report.seed}; "
             + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".", "",
             "<details><summary>configuration</summary>", "", "```json", json.dumps(o.config, indent=1, default=str),
             "```", "", "</details>", ""]
    for t in o.tables:
        lines += [f"**{t.title}**" + (f" (measured columns, not compared: {', '.join(t.measured)})" if t.measured else ""), "",
                  t.markdown(), ""]
    for p in o.plots:
        lines += [f"![{p.caption}]({images}{p.filename})", "", f"*{p.caption}*", ""]
    lines += [n + "\n" for n in o.notes]
    lines += ["<details><summary>raw CSV</summary>", ""]
    for t in o.tables:
        lines += [f"`{t.slug}.csv`", "", "```csv", t.csv().rstrip(), "```", ""]
    lines += ["</details>", ""]
    return "\n".join(lines)


def per_gib(value: float, bytes_cached: int) -> float:
    return value * (1 << 30) / bytes_cached if bytes_cached else 0.0


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def print_table(t: Table) -> Any:
    from rich import box  # noqa: PLC0415
    from rich.table import Table as RichTable  # noqa: PLC0415

    rt = RichTable(*t.columns, title=t.title, box=box.SIMPLE_HEAD)
    for row in t.rows:
        rt.add_row(*(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row))
    return rt


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
