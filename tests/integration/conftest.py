"""The real stack for integration tests: redis-server + four service processes on free ports, once per session
(and a stack of its own for a module that resets the machine or needs it fresh)."""

from __future__ import annotations

import pytest

from mmsim import stack
from mmsim.runtime import config


def _stack(tmp_path_factory, name: str):
    state = tmp_path_factory.mktemp(name)
    settings = stack.pick_free_settings(config.load({"MMSIM_MEMORY": "256MiB", "MMSIM_LOG_LEVEL": "info"}), str(state))
    try:
        stack.up(settings, timeout=60, tied=True)
        yield settings
    finally:
        stack.down(settings)


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory):
    yield from _stack(tmp_path_factory, "mmsim-state")


@pytest.fixture(scope="module")
def own_stack_settings(tmp_path_factory):
    """A private stack for this module only (the CLI and README tests reset it, stop it and start it again)."""
    yield from _stack(tmp_path_factory, "mmsim-own")
