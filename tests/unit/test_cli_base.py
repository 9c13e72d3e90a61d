"""The CLI's pure helpers: number parsing, bytes for a terminal, the /proc parsers, fault exit codes."""

from __future__ import annotations

import pytest
import typer
from hypothesis import given, settings, strategies as st

from mmsim.cli_base import (
    EXIT_SIGBUS,
    EXIT_SIGKILL,
    EXIT_SIGSEGV,
    U64,
    fault_exit_code,
    hexdump,
    number,
    show_bytes,
)
from mmsim.cli_inspect import parse_buddyinfo, parse_pagetypeinfo


@settings(derandomize=True, max_examples=200)
@given(st.integers(0, U64))
def test_number_reads_decimal_and_hex_alike(n):
    parse = number()
    assert parse(str(n)) == parse(hex(n)) == n


@pytest.mark.parametrize("text", ["-1", "18446744073709551616", "garbage", "", "0x", "1.5"])
def test_number_refuses_what_is_not_a_u64(text):
    with pytest.raises(typer.BadParameter):
        number()(text)


def test_number_sizes_and_bounds():
    assert number(sizes=True)("16KiB") == 16384 and number(sizes=True)("1MiB") == 1 << 20
    with pytest.raises(typer.BadParameter, match="not a number"):
        number()("16KiB")                     # sizes only where a size makes sense
    with pytest.raises(typer.BadParameter, match="out of range: 1..100"):
        number(1, 100)("0")


def test_show_bytes_prints_text_or_a_hexdump():
    assert show_bytes(b"hello") == "hello"
    assert show_bytes(b"ab" + bytes(4096)) == "ab\\0{4096}"
    assert show_bytes(b"\xff\x00\x01").startswith("00000000  ff 00 01")


def test_hexdump_collapses_repeated_lines_like_hexdump_c():
    lines = hexdump(bytes(64)).splitlines()
    assert lines == ["00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|", "*",
                     "00000040"]


BUDDYINFO = """Node 0, zone      DMA      0      0      0      0      0      0      0      0      0      0      4 
Node 0, zone    DMA32   1094   1093      0      0      0      0      0      0      0      0     60 
"""


def test_parse_buddyinfo():
    assert parse_buddyinfo(BUDDYINFO) == [
        {"node": 0, "zone": "DMA", "free": [0] * 10 + [4]},
        {"node": 0, "zone": "DMA32", "free": [1094, 1093] + [0] * 8 + [60]},
    ]


PAGETYPEINFO = """Page block order: 9
Pages per block:  512

Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 
Node    0, zone      DMA, type    Unmovable      0      0      0      0      0      0      0      0      0      0      0 
Node    0, zone      DMA, type      Movable      0      0      0      0      0      0      0      0      0      0      4 

Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate 
Node 0, zone      DMA            0            8            0            0            0 
"""


def test_parse_pagetypeinfo():
    info = parse_pagetypeinfo(PAGETYPEINFO)
    assert info["page_block_order"] == 9 and info["pages_per_block"] == 512
    assert info["free"][1] == {"node": 0, "zone": "DMA", "type": "Movable", "free": [0] * 10 + [4]}
    assert info["blocks"] == [{"node": 0, "zone": "DMA", "blocks": {"Unmovable": 0, "Movable": 8, "Reclaimable": 0,
                                                                     "HighAtomic": 0, "Isolate": 0}}]


@pytest.mark.parametrize("names, code", [
    ([], 0), (["VM_FAULT_MAJOR", "VM_FAULT_LOCKED"], 0), (["VM_FAULT_NOPAGE"], 0),
    (["VM_FAULT_SIGBUS"], EXIT_SIGBUS), (["VM_FAULT_HWPOISON"], EXIT_SIGBUS),
    (["VM_FAULT_SIGSEGV"], EXIT_SIGSEGV), (["VM_FAULT_OOM"], EXIT_SIGKILL),
])
def test_a_failed_fault_exits_as_its_signal(names, code):
    assert fault_exit_code(names) == code
