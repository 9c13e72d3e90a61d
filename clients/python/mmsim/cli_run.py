"""`mmsim run FILE`: replay a seeded scenario file (a cluster configuration and a workload) and check its
``expect:`` block.

    mmsim run scenarios/major-then-minor.yaml            a private stack with the file's cluster settings
    mmsim run FILE --seed 7 --json                       another seed; the result as JSON
    mmsim run FILE --step                                pause after each step: what it changed
    mmsim run FILE --attach                              on the running stack (reset first!)

Exit codes: 0 every expectation met; 1 an expectation failed (or the stack refused an operation); 2 the file
is not a valid scenario (the message names the line). The scenario modules (pydantic, PyYAML) load when the
command runs.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mmsim.cli_base import EXIT_ERROR, TARGET, Out, app, command, console, number, opt, table


def load_scenario(path: str):
    """The validated scenario of ``path``; a usage error (exit 2) naming the file's line otherwise."""
    from mmsim import scenario  # noqa: PLC0415

    try:
        return scenario.load(path)
    except scenario.ScenarioError as exc:
        raise typer.BadParameter(str(exc), param_hint="FILE") from None


def _show_step(rec, pause: bool) -> None:
    from rich.panel import Panel  # noqa: PLC0415

    c = console()
    ch = rec.changes
    body = [f"[bold]{rec.summary}[/bold]"]
    if ch.get("vmstat"):
        body.append("counters: " + ", ".join(f"{k} {v:+d}" for k, v in ch["vmstat"].items()))
    for zone, delta in ch.get("buddyinfo", {}).items():
        body.append(f"buddyinfo {zone}: " + " ".join(f"{d:+d}" if d else "." for d in delta) + "  (per order 0..10)")
    for name, d in ch.get("xarray", {}).items():
        body.append(f"XArray {name}: " + ", ".join(f"{k} {v:+d}" for k, v in d.items()))
    if ch.get("trace"):
        body.append("last fault's span tree:\n" + ch["trace"])
    if len(body) == 1:
        body.append("(nothing moved)")
    c.print(Panel("\n".join(body), title=f"step {rec.index}: {rec.op}", title_align="left"), markup=True)
    if pause:
        answer = typer.prompt("Enter: next step, c: continue to the end", default="", show_default=False)
        if answer.strip().lower() == "c":
            raise _Continue


class _Continue(Exception):
    pass


@command(app, "run", panel="Experiments")
def run(
    file: Annotated[str, typer.Argument(help="a scenario file (YAML, schema 1), e.g. scenarios/major-then-minor.yaml",
                                        metavar="FILE", show_default=False)],
    seed: Annotated[int | None, opt("the seed of every random choice (default: the file's `seed:`)", "--seed",
                                    parser=number(0, (1 << 63) - 1), metavar="N")] = None,
    step: Annotated[bool, opt("pause after each step and show what changed: the counters that moved, the "
                              "buddyinfo and XArray deltas, the last fault's span tree", "--step")] = False,
    attach: Annotated[bool, opt("run on the stack `mmsim up` (or --target) points at, after resetting it, instead "
                                "of a private stack with the file's cluster settings", "--attach")] = False,
    traces: Annotated[int, opt("fetch the span-tree shapes of the first N faults of each fault step (JSON "
                               "`trace_shapes`)", "--traces", parser=number(0, 1000), metavar="N")] = 0,
) -> Out:
    """Replay a seeded scenario: reset the machine, make its filesystems, files and processes, run its steps
    (mmap, fault with sequential/random/strided/zipf patterns, write, truncate, punch, reflink, fragment,
    pressure, alloc...) with a progress bar, then check its `expect:` block. The same file and seed give the
    same counters. Exits 1 when an expectation fails, 2 when the file is not valid (naming the line).

    Example: mmsim run scenarios/major-then-minor.yaml --seed 7 --json
    """
    sc = load_scenario(file)
    from mmsim import scenario  # noqa: PLC0415
    from mmsim.client import Cluster  # noqa: PLC0415

    observe = step
    pause = [step and sys.stdin.isatty()]

    def go(mm):
        runner = scenario.Runner(mm, sc, seed, observe=observe, trace_faults=traces or (1 if step else 0))
        total = sum(1 if s.op != "fault" else 0 for s in sc.steps) + sum(
            (s.count or 64) for s in sc.steps if s.op == "fault")
        if step or not sys.stderr.isatty():
            def shown(rec, units):
                if step:
                    try:
                        _show_step(rec, pause[0])
                    except _Continue:
                        pause[0] = False
            return runner.run(shown)
        from rich.console import Console  # noqa: PLC0415
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(sc.name, total=total)

            def advance(rec, units):
                bar.update(task, advance=units, description=f"{sc.name}: step {rec.index} {rec.op}")
            return runner.run(advance)

    if attach:
        with Cluster.connect(target=TARGET[0] or None) as mm:
            result = go(mm)
    else:
        with scenario.private_stack(sc.cluster) as settings, Cluster.connect(settings) as mm:
            result = go(mm)
    data = result.to_dict()

    def text():
        from rich.console import Group  # noqa: PLC0415

        parts = [table(["#", "op", "what happened"], [[r.index, r.op, r.summary] for r in result.steps],
                       title=f"{sc.name} (seed {result.seed})")]
        figures = [["fault outcome", k, v] for k, v in sorted(result.outcomes.items())]
        figures += [["vm_fault bit", k, v] for k, v in sorted(result.vm_fault.items())]
        figures += [["folio order", k, v] for k, v in result.folio_orders.items()]
        figures += [["allocation", k, v] for k, v in result.allocations.items()]
        figures += [["counter", k, v] for k, v in result.counters.items()]
        parts.append(table(["figure", "name", "value"], figures))
        checks = sc.expect.count()
        parts.append("expect: " + (f"all {checks} expectations met" if result.ok else
                                   f"{len(result.failures)} FAILED:\n  " + "\n  ".join(result.failures)))
        return Group(*parts)

    return Out(data, text, 0 if result.ok else EXIT_ERROR,
               notes=[f"mmsim: expectation failed: {f}" for f in result.failures])
