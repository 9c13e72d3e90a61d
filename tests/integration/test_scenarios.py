"""The scenario files in scenarios/ as regression tests, `mmsim run` (private stack, --step, --json, a bad
file), and the same file and seed giving the same counters and trace shapes twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmsim import scenario as S
from mmsim.cli import app
from mmsim.experiments.base import Lab

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
runner = CliRunner()


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    yield lab
    lab.close()


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_expectations_hold(lab, path):
    sc = S.load(path)
    res = S.Runner(lab.cluster(sc.cluster), sc).run()
    assert res.ok, f"{path.name}: " + "; ".join(res.failures)


def test_the_same_seed_gives_the_same_counters_and_trace_shapes(lab):
    sc = S.load(ROOT / "scenarios" / "major-then-minor.yaml")
    mm = lab.cluster(sc.cluster)
    a = S.Runner(mm, sc, seed=11, trace_faults=2).run()
    b = S.Runner(mm, sc, seed=11, trace_faults=2).run()
    assert a.trace_shapes and a.fingerprint() == b.fingerprint()
    zipf = S.parse((ROOT / "scenarios" / "sparse-read-zero-entries.yaml").read_text())
    c, d = (S.Runner(mm, zipf, seed=s).run() for s in (1, 2))
    assert [f["offset"] for f in c.faults] != [f["offset"] for f in d.faults]   # another seed, other pages


def test_a_failed_expectation_is_reported_with_what_was_got(lab):
    sc = S.load(ROOT / "scenarios" / "min-order-oom.yaml")
    # counts no run can have (one fault): what the run got varies with reclaim's timing, the report must not
    wrong = sc.model_copy(update={"expect": S.Expect(outcomes={"oom": 7, "major": 7})})
    res = S.Runner(lab.cluster(sc.cluster), wrong).run()
    got = res.outcomes
    assert sorted(res.failures) == [f"outcomes.major: expected 7, got {got.get('major', 0)}",
                                    f"outcomes.oom: expected 7, got {got.get('oom', 0)}"]


def test_mmsim_run_starts_its_stack_and_checks_expect(tmp_path):
    path = ROOT / "scenarios" / "kvmalloc-under-fragmentation.yaml"
    out = runner.invoke(app, ["run", str(path), "--json", "--seed", "3"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["ok"] and data["seed"] == 3 and data["allocations"] == {"failed": 1, "kmalloc": 1, "vmalloc": 1}
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("kind: kvmalloc_array", "kind: kvmalloc_matrix"))
    out = runner.invoke(app, ["run", str(bad)], env={"COLUMNS": "400"})
    assert out.exit_code == 2 and "Traceback" not in out.output
    line = 1 + bad.read_text().splitlines().index("  - alloc: {kind: kvmalloc_matrix, n: 2305843009213693953, size: 8}")
    assert f"{bad.name}:{line}: steps.4.alloc.kind: Input should be" in out.stderr and "Invalid value" in out.stderr
    out = runner.invoke(app, ["run", str(tmp_path / "none.yaml"), "--json"])
    assert out.exit_code == 2 and "cannot read" in out.stderr


def test_mmsim_run_step_shows_what_each_step_changed(own_stack_settings):
    path = ROOT / "scenarios" / "major-then-minor.yaml"
    out = runner.invoke(app, ["run", str(path), "--attach", "--step"], env=own_stack_settings.env())
    assert out.exit_code == 0, out.output
    assert "step 2: fault" in out.stdout and "pgmajfault +3" in out.stdout
    assert "buddyinfo Node 0, zone" in out.stdout and "XArray a: entries +3" in out.stdout
    assert "span tree" in out.stdout and "HandleFault" in out.stdout
    assert "all 14 expectations met" in out.stdout
