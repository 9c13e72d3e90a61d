"""mmsim.runtime.lua.Spec: a script's KEYS/ARGV by name and its replies decoded by kind; every service script
declared with a Spec reads only the names its spec declares (a renamed or dropped argument fails here, not at
run time); a fenced SpecScript checks the caller's token first."""

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from mmsim.runtime import locks
from mmsim.runtime.errors import Aborted
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
    fenced = SPEC.prologue(fenced=True)   # the fence, the last KEY and ARGV, popped before the list is bound
    assert "local KEY = {fence = table.remove(KEYS), mm = KEYS[1], pte = KEYS[2]}" in fenced
    assert "local ARG = {fence = table.remove(ARGV), pid = ARGV[1]}" in fenced
    assert fenced.index("table.remove(ARGV)") < fenced.index("for i = 2, #ARGV")


def test_spec_rejects_names_that_clash_with_the_call_and_the_reply():
    with pytest.raises(ValueError, match="SpecScript's own"):
        Spec("x", keys=("fence",))
    with pytest.raises(ValueError, match=r"not be named \['fields'\]"):
        Spec("x", replies={"ok": ("*fields",)})


def _spec_scripts() -> list[tuple[str, SpecScript]]:
    """Every SpecScript a service module declares, by module and name (a lock Step's by itself: ``alone``)."""
    found = []
    for service in ("allocator", "filesystem", "pagecache", "rmap", "runtime"):
        package = importlib.import_module(f"mmsim.{service}")
        for info in pkgutil.iter_modules(package.__path__, f"mmsim.{service}."):
            module = importlib.import_module(info.name)
            found += [(f"{info.name}.{n}", v.alone if isinstance(v, locks.Step) else v) for n, v in vars(module).items()
                      if isinstance(v, (SpecScript, locks.Step))]
    return found


_SCRIPTS = _spec_scripts()


def test_the_scripts_are_found():
    names = {n.rsplit(".", 1)[1] for n, _ in _SCRIPTS}
    assert {"SPAWN", "CREATE", "EVICT", "UPDATE", "WRITE_BEGIN", "READ", "_ACQUIRE", "CLAIM", "ALLOC", "FREE", "ADD_FOLIO", "WRITE", "STORE_RANGE", "DUMP"} <= names


@pytest.mark.parametrize("name,script", _SCRIPTS, ids=[n for n, _ in _SCRIPTS])
def test_scripts_read_only_declared_names(name, script):
    spec = script.spec
    module = importlib.import_module(name.rsplit(".", 1)[0])
    body = (Path(module.__file__).parent / f"{spec.file}.lua").read_text()
    assert "ARGV[" not in body and "KEYS[" not in body, "a body reads its arguments by name"
    fence = {"fence"} if script.fenced else set()
    assert set(re.findall(r"\bARG\.(\w+)", body)) <= {a.lstrip("*") for a in spec.args} | fence
    assert set(re.findall(r"\bKEY\.(\w+)", body)) <= set(spec.keys) | fence
    returned = set(re.findall(r"(?:return|out =) \{'(\w+)'|table\.insert\(out, 1, '(\w+)'\)", body))
    returned = {kind for pair in returned for kind in pair if kind}
    assert returned and returned <= set(spec.replies), "every reply kind the script returns is declared"


async def test_a_fenced_spec_script_checks_the_token_before_its_body(aredis, tmp_path):
    (tmp_path / "fenced_set.lua").write_text("redis.call('SET', KEY.k, ARG.v) return {'set', ARG.fence}")
    script = SpecScript(Spec("fenced_set", keys=("k",), args=("v",), replies={"set": ("spec",)}),
                        str(tmp_path / "here.py"), fenced=True)
    lk = locks.Locks(aredis, 60000, 30.0)
    async with lk.hold(locks.INVALIDATE_LOCK, "spec0/1", locks.WRITE) as g:
        r = await script(aredis, k="k", v="held", fence=g.lock.fence)
        assert r.kind == "set" and r.spec == g.lock.fence.spec and await aredis.get("k") == b"held"
        await aredis.hset(locks.lock_key(locks.INVALIDATE_LOCK, "spec0/1"), "w_exp", 0)   # the lease ran out
        with pytest.raises(Aborted, match="ESTALE"):
            await script(aredis, k="k", v="stale", fence=g.lock.fence)
    assert await aredis.get("k") == b"held"
    with pytest.raises(TypeError, match="needs fence="):
        await script(aredis, k="k", v="no fence")
