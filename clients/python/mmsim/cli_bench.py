"""`mmsim bench run / compare`: the benchmark suite of issue 16 (`make bench`) and its regression check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmsim.cli_base import EXIT_ERROR, EXIT_USAGE, Out, arg, command, number, opt, table
from mmsim.cli_stack import bench_app


def _fmt(value) -> str:
    if value is None or value == "":
        return ""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


@command(bench_app, "run")
def bench_run(
    repeats: Annotated[int, opt("runs of every figure; the median and the spread (min..max) are reported (e.g. 3)",
                                "--repeats", parser=number(1, 20), metavar="N")] = 3,
    faults: Annotated[int, opt("faults of each kind per run and client count (e.g. 100)", "--faults",
                               parser=number(8, 100_000), metavar="N")] = 100,
    kib: Annotated[int, opt("file size of the populate figures, KiB (e.g. 256)", "--populate-kib",
                            parser=number(16, 1 << 20), metavar="KIB")] = 256,
    ops: Annotated[int, opt("operations of the XArray and bare-Redis figures (e.g. 2000)", "--ops",
                            parser=number(10, 10_000_000), metavar="N")] = 2000,
    out_file: Annotated[str, opt("also write the results there as JSON (e.g. bench.json)", "--out",
                                 metavar="FILE")] = "",
) -> Out:
    """Fault latency and throughput (major, minor; 1 and 8 clients) over gRPC and in-process, populate MiB/s by
    folio order, XArray ops/s, allocations/s, Redis bytes per page, XArray nodes per GiB: each beside its floor
    measured in the same run (the echo chain of the same hops and round trips, a bare EVALSHA, a read without
    faults), medians of --repeats private stacks with their spread and the load average.

    Example: mmsim bench run --repeats 3 --out bench.json
    """
    import sys  # noqa: PLC0415

    from mmsim import bench  # noqa: PLC0415

    def progress(i, n, load):
        sys.stderr.write(f"bench run {i}/{n} done (load average {load[0]:.2f} -> {load[1]:.2f})\n")

    result = bench.suite(repeats, faults, kib, ops, progress)
    if out_file:
        Path(out_file).write_text(json.dumps(result, indent=1) + "\n")
    loads = ", ".join(f"{a:.1f}->{b:.1f}" for a, b in result["loadavg_1m"])
    rows = [[name, _fmt(m["value"]), f"{_fmt(m['min'])}..{_fmt(m['max'])}", m["unit"], _fmt(m.get("floor")),
             m.get("floor_label", ""), _fmt(m.get("ratio"))] for name, m in result["metrics"].items()]
    text = table(["figure", "median", "spread", "unit", "floor", "floor is", "x floor"], rows,
                 title=f"mmsim bench: {repeats} runs, load average (1 min) {loads} on {result['cpus']} CPUs")
    return Out(result, text)


@command(bench_app, "compare")
def bench_compare(
    a: Annotated[str, arg("the baseline: a JSON file of `mmsim bench run --out` (e.g. main.json)", metavar="A")],
    b: Annotated[str, arg("the candidate, likewise (e.g. branch.json)", metavar="B")],
    threshold: Annotated[int, opt("a change smaller than this many percent is never a regression (e.g. 10)",
                                  "--threshold", parser=number(0, 1000), metavar="PCT")] = 10,
) -> Out:
    """Every figure of B beside A's: a regression is a change for the worse beyond --threshold and beyond the
    noise (the wider relative spread of the two); exit status 1 when there is one.

    Example: mmsim bench compare main.json branch.json
    """
    from mmsim import bench  # noqa: PLC0415

    docs = []
    for path in (a, b):
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise _usage(f"cannot read {path}: {exc}") from None
        if not isinstance(doc, dict) or doc.get("schema") != bench.SCHEMA:
            raise _usage(f"{path} is not the output of `mmsim bench run --out` (schema {bench.SCHEMA})")
        docs.append(doc)
    rows = bench.compare(docs[0], docs[1], threshold / 100)
    worse = [r for r in rows if r["verdict"] == "regression"]
    text = table(["figure", "A", "B", "unit", "change", "noise", "verdict"],
                 [[r["metric"], _fmt(r["a"]), _fmt(r["b"]), r["unit"], f"{r['change']:+.1%}", f"{r['noise']:.1%}",
                   r["verdict"]] for r in rows], title=f"{b} against {a}: {len(worse)} regression(s)")
    return Out({"regressions": len(worse), "figures": rows}, text, EXIT_ERROR if worse else 0)


def _usage(message: str) -> typer.Exit:
    from mmsim.cli_base import fail  # noqa: PLC0415

    return fail(message, EXIT_USAGE)
