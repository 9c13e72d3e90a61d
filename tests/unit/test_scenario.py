"""Scenario files: the schema (errors name the YAML line and the field) and the seeded access patterns."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mmsim import scenario as S

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))

GOOD = """\
schema: 1
name: t
seed: 4
cluster: {memory: 16MiB, chunk_shift: 4}
filesystems:
  - {name: xfs0, block_size: 16KiB}
files:
  - {name: a, fs: xfs0, size: 64KiB}
processes:
  - {name: p}
steps:
  - mmap: {process: p, file: a, as: m}
  - fault: {map: m, pattern: zipf, count: 5}
  - truncate: {file: a, size: 1000}
"""


def test_every_committed_scenario_is_valid():
    assert len(SCENARIOS) >= 4
    for path in SCENARIOS:
        sc = S.load(path)
        assert sc.steps and sc.description, path


def test_a_valid_document_parses_sizes_and_steps():
    sc = S.parse(GOOD)
    assert sc.cluster.memory == 16 << 20 and sc.cluster.env()["MMSIM_XA_CHUNK_SHIFT"] == "4"
    assert sc.filesystems[0].block_size == 16384
    assert [s.op for s in sc.steps] == ["mmap", "fault", "truncate"]
    assert sc.steps[1].pattern == "zipf" and sc.steps[2].size == 1000


@pytest.mark.parametrize("old,new,line,words", [
    ("block_size: 16KiB", "block_size: 16QiB", 6, ["filesystems.0.block_size", "not a size"]),
    ("pattern: zipf", "pattern: spiral", 13, ["steps.1.fault.pattern", "sequential"]),
    ("- fault: {map: m,", "- faults: {map: m,", 13, ["steps.1", "faults", "does not match"]),
    ("{map: m, pattern", "{map: q, pattern", 13, ["steps.1.fault.map", "no mapping 'q'"]),
    ("fs: xfs0, size", "fs: xfs9, size", 8, ["files.0.fs", "no filesystem 'xfs9'"]),
    ("truncate: {file: a,", "truncate: {file: b,", 14, ["steps.2.truncate.file", "no file 'b'"]),
    ("{name: p}", "{name: p, colour: red}", 10, ["processes.0.colour", "Extra inputs"]),
    ("chunk_shift: 4", "chunk_shift: 9", 4, ["cluster.chunk_shift", "less than or equal to 6"]),
    ("schema: 1", "schema: 2", 1, ["schema must be 1"]),
    ("seed: 4", "seed: 4: 5", 3, ["not YAML"]),
])
def test_an_error_names_the_line_and_the_field(old, new, line, words):
    assert old in GOOD
    with pytest.raises(S.ScenarioError) as exc:
        S.parse(GOOD.replace(old, new), "t.yaml")
    msg = str(exc.value)
    assert msg.startswith(f"t.yaml:{line}:"), msg
    for w in words:
        assert w in msg, msg


def test_a_document_that_is_not_a_mapping_is_refused():
    with pytest.raises(S.ScenarioError, match="t.yaml:1: a scenario is a mapping"):
        S.parse("- 1\n- 2\n", "t.yaml")


def _step(**kw) -> S.FaultStep:
    return S.FaultStep(op="fault", map="m", **kw)


@pytest.mark.parametrize("pattern", ["sequential", "random", "strided", "zipf"])
def test_patterns_stay_inside_the_mapping_and_repeat_with_the_seed(pattern):
    step = _step(pattern=pattern, count=50, stride=12288)
    length = 1 << 20
    a = S.fault_offsets(step, length, random.Random(7))
    b = S.fault_offsets(step, length, random.Random(7))
    assert a == b and len(a) == 50
    assert all(0 <= off < length * (2 if pattern == "strided" else 1) and off % 4096 == 0 for off in a)
    if pattern in ("random", "zipf"):
        assert a != S.fault_offsets(step, length, random.Random(8))


def test_sequential_and_strided_defaults_cover_the_mapping():
    assert S.fault_offsets(_step(), 5 * 4096, random.Random(0)) == [0, 4096, 8192, 12288, 16384]
    assert S.fault_offsets(_step(pattern="strided", stride=16384), 65536, random.Random(0)) == [0, 16384, 32768, 49152]


def test_zipf_is_hot_and_cold():
    offs = S.fault_offsets(_step(pattern="zipf", count=2000, theta=1.2), 256 * 4096, random.Random(1))
    counts = sorted((offs.count(o) for o in set(offs)), reverse=True)
    assert counts[0] > 10 * counts[len(counts) // 2]        # the hottest page far above the median page


def test_buddyinfo_is_parsed_by_zone():
    text = "Node 0, zone    DMA32      1      2      3\nNode 0, zone   Normal      0      0      5\n"
    assert S.parse_buddyinfo(text) == {"Node 0, zone DMA32": [1, 2, 3], "Node 0, zone Normal": [0, 0, 5]}


def test_the_cli_loads_no_schema_or_plotting_library_at_start():
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = ("import sys, mmsim.cli; heavy = {'pydantic', 'yaml', 'matplotlib', 'mmsim.scenario', 'mmsim.experiments'}"
            " & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
