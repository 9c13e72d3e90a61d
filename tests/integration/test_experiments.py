"""Experiments: the same seed gives the same numbers twice (counters and tables, not timings), and a run
writes its results folder. `make test` runs two quick experiments; `make soak` (MMSIM_EXPERIMENTS=all) every one."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from mmsim import experiments
from mmsim.cli import app
from mmsim.experiments.base import Lab, run_experiment

CHOSEN = experiments.NAMES if os.environ.get("MMSIM_EXPERIMENTS") == "all" else ("mapcount", "struct-page")


@pytest.mark.parametrize("name", CHOSEN)
def test_the_same_seed_gives_the_same_numbers(name, tmp_path):
    module = experiments.get(name)
    lab = Lab(seed=5)
    try:
        first = run_experiment(module, quick=True, seed=5, out_dir=tmp_path / "a", lab=lab)
        second = run_experiment(module, quick=True, seed=5, lab=lab)
    finally:
        lab.close()
    assert first.fingerprint() == second.fingerprint()
    assert all(t.rows for t in first.outcome.tables)
    written = {p.name for p in (tmp_path / "a").iterdir()}
    assert "report.md" in written and any(n.endswith(".png") for n in written) and any(n.endswith(".csv") for n in written)
    report = (tmp_path / "a" / "report.md").read_text()
    assert "seed 5" in report and "mmsim" in report and "```csv" in report


def test_experiment_commands(tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["experiment", "list", "--json"])
    assert out.exit_code == 0 and [e["name"] for e in json.loads(out.stdout)] == list(experiments.NAMES)
    out = runner.invoke(app, ["experiment", "run", "mapcount", "--quick", "--out", str(tmp_path / "mc"), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["name"] == "mapcount" and data["tables"][0]["rows"] and "report.md" in data["files"]
    assert (tmp_path / "mc" / "mapcount-policies.png").stat().st_size > 1000
    for argv in (["experiment", "run", "nope"], ["experiment", "docs", "--only", "nope"],
                 ["experiment", "run", "mapcount", "--seed", "-1"]):
        out = runner.invoke(app, argv)
        assert out.exit_code == 2 and "Invalid value" in out.stderr and "Traceback" not in out.output, argv
