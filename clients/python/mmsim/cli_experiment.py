"""`mmsim experiment list|run|docs`: the LSFMM 2018 to-do list as experiments (mmsim.experiments).

    mmsim experiment list
    mmsim experiment run kvmalloc --quick --out results/kvmalloc      table, PNG plots, report.md, CSV
    mmsim experiment docs                                             every experiment --quick into docs/

Each run starts private stacks (free ports) with the configurations it compares, so it needs no `mmsim up`.
matplotlib and pydantic load only when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmsim.cli_base import Out, command, group, number, opt, table

experiment_app = group("experiment", "The to-do list as experiments: list them, run one (--quick), build the docs.",
                       panel="Experiments")


def _module(name: str):
    from mmsim import experiments  # noqa: PLC0415

    try:
        return experiments.get(name)
    except KeyError:
        raise typer.BadParameter(f"{name!r} is not an experiment; known: {', '.join(experiments.NAMES)}",
                                 param_hint="NAME") from None


@command(experiment_app, "list")
def list_() -> Out:
    """The experiments: name, what they measure, the variants they compare.

    Example: mmsim experiment list --json
    """
    from mmsim import experiments  # noqa: PLC0415

    rows = []
    for name in experiments.NAMES:
        m = experiments.get(name)
        rows.append({"name": name, "title": m.TITLE, "compares": m.COMPARES})
    return Out(rows, lambda: table(["name", "measures", "compares"], [[r["name"], r["title"], r["compares"]] for r in rows]))


@command(experiment_app, "run")
def run(
    name: Annotated[str, typer.Argument(help="the experiment (see `mmsim experiment list`), e.g. kvmalloc",
                                        metavar="NAME", show_default=False)],
    quick: Annotated[bool, opt("small sizes and few variants (under three minutes each)", "--quick")] = False,
    out: Annotated[str, opt("the results folder (default results/NAME)", "--out", metavar="DIR")] = "",
    seed: Annotated[int, opt("the seed of every random choice", "--seed", parser=number(0, (1 << 63) - 1),
                             metavar="N")] = 0,
) -> Out:
    """Run one experiment under the variants it compares: print its tables, write PNG plots, a Markdown report
    (configuration, seed, versions, the tables, raw CSV) and one CSV per table to the results folder.

    Example: mmsim experiment run kvmalloc --quick --out /tmp/kv
    """
    module = _module(name)
    from mmsim.experiments.base import print_table, run_experiment  # noqa: PLC0415

    from rich.console import Console  # noqa: PLC0415

    folder = Path(out or f"results/{name}")
    with Console(stderr=True).status(f"running {name}{' (quick)' if quick else ''} ..."):
        report = run_experiment(module, quick=quick, seed=seed, out_dir=folder)
    data = {**report.to_dict(), "out": str(folder)}

    def text():
        from rich.console import Group  # noqa: PLC0415

        return Group(*(print_table(t) for t in report.outcome.tables),
                     f"{name}: {report.elapsed_s:.1f} s, seed {seed}; wrote {', '.join(report.files)} to {folder}")
    return Out(data, text)


@command(experiment_app, "docs")
def docs(
    out: Annotated[str, opt("where docs/experiments.md and its folder go", "--out", metavar="DIR")] = "docs",
    only: Annotated[list[str] | None, opt("only these experiments (repeatable)", "--only", metavar="NAME")] = None,
) -> Out:
    """Run every experiment with --quick (seed 0) into DIR/experiments/NAME and write DIR/experiments.md with
    each one's tables and plots (`make experiments-docs`).

    Example: mmsim experiment docs --out docs
    """
    from mmsim.experiments.docs import build  # noqa: PLC0415

    for name in only or []:
        _module(name)
    reports = build(Path(out), only or None)
    rows = [{"name": r.name, "elapsed_s": round(r.elapsed_s, 1), "files": r.files} for r in reports]
    return Out({"out": str(Path(out) / "experiments.md"), "experiments": rows},
               lambda: table(["experiment", "seconds", "files"], [[r["name"], r["elapsed_s"], len(r["files"])] for r in rows]))
