"""Experiments: the same seed gives the same numbers twice (counters and tables, not timings), and a run
writes its results folder. `make test` runs two quick experiments; `make soak` (MMSIM_EXPERIMENTS=all) every one.

The first run goes through `mmsim experiment run NAME --quick --json`, the second through the Python API, each
on stacks of its own: the tables' cells must be equal, except the measured columns (wall clock, Redis bytes)."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from mmsim import experiments
from mmsim.cli import app
from mmsim.experiments.base import run_experiment

CHOSEN = experiments.NAMES if os.environ.get("MMSIM_EXPERIMENTS") == "all" else ("mapcount", "struct-page")
runner = CliRunner()


def _fingerprint(tables: list[dict]) -> dict:
    out = {}
    for t in tables:
        keep = [i for i, c in enumerate(t["columns"]) if c not in t["measured"]]
        out[t["title"]] = [[row[i] for i in keep] for row in t["rows"]]
    return out


@pytest.mark.parametrize("name", CHOSEN)
def test_the_same_seed_gives_the_same_numbers(name, tmp_path):
    out = runner.invoke(app, ["experiment", "run", name, "--quick", "--seed", "5", "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    first = json.loads(out.stdout)
    assert first["name"] == name and all(t["rows"] for t in first["tables"])
    # JSON turns tuples into lists: compare through the same round trip
    second = run_experiment(experiments.get(name), quick=True, seed=5)
    assert _fingerprint(first["tables"]) == _fingerprint(json.loads(json.dumps([t.to_dict() for t in second.outcome.tables])))
    written = {p.name for p in tmp_path.iterdir()}
    assert "report.md" in written and any(n.endswith(".png") for n in written) and any(n.endswith(".csv") for n in written)
    assert all((tmp_path / n).stat().st_size > 100 for n in written)
    report = (tmp_path / "report.md").read_text()
    assert "seed 5" in report and "mmsim 0." in report and "```csv" in report


def test_experiment_commands():
    out = runner.invoke(app, ["experiment", "list", "--json"])
    assert out.exit_code == 0 and [e["name"] for e in json.loads(out.stdout)] == list(experiments.NAMES)
    for argv in (["experiment", "run", "nope"], ["experiment", "docs", "--only", "nope"],
                 ["experiment", "run", "mapcount", "--seed", "-1"]):
        out = runner.invoke(app, argv)
        assert out.exit_code == 2 and "Invalid value" in out.stderr and "Traceback" not in out.output, argv
