"""The real stack for integration tests: redis-server + four service processes on free ports, once per session."""

from __future__ import annotations

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


@pytest.fixture()
def mm(stack_settings):
    """A client connected to the session's stack (mmsim.client.Cluster)."""
    from mmsim.client import Cluster  # noqa: PLC0415

    with Cluster.connect(stack_settings) as c:
        yield c
