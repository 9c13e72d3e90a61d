import pytest

from mmsim.runtime.config import load, parse_size


def test_sizes_parse_with_binary_suffixes():
    assert parse_size("4GiB") == 4 << 30
    assert parse_size("512M") == 512 << 20
    assert parse_size("65536") == 65536


def test_bad_size_is_refused():
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


def test_env_round_trips_through_load():
    s = load({"MMSIM_MEMORY": "1GiB", "MMSIM_RMAP_ADDR": "127.0.0.1:1"})
    again = load(s.env())
    assert again == s
    assert again.memory_bytes == 1 << 30
