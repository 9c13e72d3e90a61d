"""The real stack for integration tests: redis-server + four service processes on free ports, once per session."""

from __future__ import annotations

import os

import pytest

from mmsim import stack
from mmsim.runtime import config


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory):
    state = tmp_path_factory.mktemp("mmsim-state")
    settings = stack.pick_free_settings(config.load({"MMSIM_MEMORY": "256MiB", "MMSIM_LOG_LEVEL": "info"}), str(state))
    try:
        stack.up(settings, timeout=60, tied=True)
        yield settings
    finally:
        stack.down(settings)


@pytest.fixture(scope="session")
def model_examples() -> int:
    """Examples per configuration of the bytes-model property test (MMSIM_MODEL_EXAMPLES; issue 9 asks for 200)."""
    return int(os.environ.get("MMSIM_MODEL_EXAMPLES", "200"))


@pytest.fixture(scope="session")
def model_shrink() -> bool:
    """Shrink a failing example of the bytes-model test (MMSIM_MODEL_SHRINK=1): minutes per failure, so off
    by default; the failing program is printed either way and replays from the printed seed."""
    return os.environ.get("MMSIM_MODEL_SHRINK", "0") == "1"
