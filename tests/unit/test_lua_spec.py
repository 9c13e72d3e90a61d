"""mmsim.runtime.lua.Spec: a script's KEYS/ARGV by name and its replies decoded by kind; and every reverse-map
script's body reads only the names its spec declares (a renamed or dropped argument fails here, not at run time)."""

import re
from pathlib import Path

import pytest

from mmsim.rmap import lua as rmap_lua
from mmsim.runtime.lua import Spec, SpecScript

SPEC = Spec("demo", keys=("mm", "pte"), args=("pid", "*folios"),
            replies={"ok": ("n:int", "pte", "data:bytes", "*freed:int"), "nopid": ()})  # fmt: skip


def test_build_orders_keys_and_flattens_the_list_arg():
    keys, argv = SPEC.build({"pte": "K2", "mm": "K1", "pid": 7, "folios": [1, 2, 3]})
    assert keys == ["K1", "K2"] and argv == [7, 1, 2, 3]


def test_build_refuses_missing_and_unknown_names():
    with pytest.raises(TypeError, match=r"missing \['folios'\], unknown \['extra'\]"):
        SPEC.build({"mm": 1, "pte": 2, "pid": 3, "extra": 4})


def test_decode_names_fields_and_types():
    r = SPEC.decode([b"ok", b"12", b"1:2:0:0:8", b"\x00\xff", b"0", b"4096", b"9"])
    assert r.kind == "ok" and r.n == 12 and r.pte == "1:2:0:0:8" and r.data == b"\x00\xff" and r.freed == [0, 4096, 9]
    short = SPEC.decode([b"ok", b"3"])
    assert short.pte == "" and short.freed == []
    with pytest.raises(AttributeError, match="no field 'why'"):
        _ = r.why
    with pytest.raises(RuntimeError, match="undeclared reply 'segv'"):
        SPEC.decode([b"segv", b"why"])


def test_spec_rejects_clashing_names_and_a_list_arg_not_last():
    with pytest.raises(ValueError, match="distinct"):
        Spec("x", keys=("pid",), args=("pid",))
    with pytest.raises(ValueError, match="last arg"):
        Spec("x", args=("*a", "b"))


def test_prologue_binds_every_name():
    text = SPEC.prologue()
    assert "local KEY = {mm = KEYS[1], pte = KEYS[2]}" in text and "local ARG = {pid = ARGV[1]}" in text
    assert "for i = 2, #ARGV do ARG.folios[i - 1] = ARGV[i] end" in text


@pytest.mark.parametrize("name", [n for n, v in vars(rmap_lua).items() if isinstance(v, SpecScript)])
def test_rmap_scripts_read_only_declared_names(name):
    spec = getattr(rmap_lua, name).spec
    body = (Path(rmap_lua.__file__).parent / f"{spec.file}.lua").read_text()
    assert "ARGV[" not in body and "KEYS[" not in body, "a body reads its arguments by name"
    assert set(re.findall(r"\bARG\.(\w+)", body)) <= {a.lstrip("*") for a in spec.args}
    assert set(re.findall(r"\bKEY\.(\w+)", body)) <= set(spec.keys)
    returned = set(re.findall(r"(?:return|local out =) \{'(\w+)'", body))
    assert returned and returned <= set(spec.replies), "every reply kind the script returns is declared"
