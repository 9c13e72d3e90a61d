"""`mmsim bench compare` and `bench run`'s argument checks (the suite itself runs in `make bench`)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mmsim import bench
from mmsim.cli import app
from mmsim.cli_base import EXIT_ERROR, EXIT_USAGE

runner = CliRunner()


def doc(per_s: float, spread: float, p50: float) -> dict:
    def m(value, unit, better):
        return {"value": value, "unit": unit, "better": better, "min": value * (1 - spread), "max": value * (1 + spread)}
    return {"schema": bench.SCHEMA, "metrics": {"grpc.fault.minor.c1.per_s": m(per_s, "faults/s", "higher"),
                                                "grpc.fault.minor.c1.p50_ms": m(p50, "ms", "lower")}}


def write(tmp_path, name, data) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_compare_flags_a_regression_beyond_the_noise(tmp_path):
    a = write(tmp_path, "a.json", doc(100, 0.02, 5.0))
    b = write(tmp_path, "b.json", doc(70, 0.02, 5.1))     # 30 % fewer faults/s; p50 +2 %: noise
    r = runner.invoke(app, ["bench", "compare", a, b, "--json"])
    assert r.exit_code == EXIT_ERROR, r.output
    out = json.loads(r.stdout)
    verdicts = {f["metric"]: f["verdict"] for f in out["figures"]}
    assert out["regressions"] == 1 and verdicts == {"grpc.fault.minor.c1.per_s": "regression",
                                                    "grpc.fault.minor.c1.p50_ms": "same"}
    r = runner.invoke(app, ["bench", "compare", b, a])
    assert r.exit_code == 0 and "improvement" in r.stdout and "Traceback" not in r.output


def test_compare_within_the_spread_is_not_a_regression(tmp_path):
    a = write(tmp_path, "a.json", doc(100, 0.30, 5.0))    # runs spread +-30 %: a 20 % drop is noise
    b = write(tmp_path, "b.json", doc(80, 0.30, 5.0))
    r = runner.invoke(app, ["bench", "compare", a, b, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["regressions"] == 0


def test_compare_bad_input_says_what_is_wrong(tmp_path):
    good = write(tmp_path, "a.json", doc(100, 0.0, 5.0))
    for bad, words in ((str(tmp_path / "missing.json"), "cannot read"),
                       (write(tmp_path, "other.json", {"schema": "x"}), "not the output of `mmsim bench run")):
        r = runner.invoke(app, ["bench", "compare", good, bad])
        assert r.exit_code == EXIT_USAGE and words in r.output and "Traceback" not in r.output


def test_run_rejects_bad_sizes():
    for argv in (["--repeats", "0"], ["--faults", "1"], ["--populate-kib", "huge"]):
        r = runner.invoke(app, ["bench", "run", *argv])
        assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output, (argv, r.output)
