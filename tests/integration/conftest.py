"""The real stack for integration tests: redis-server + four service processes on free ports, once per session
(and a stack of its own for a module that resets the machine or needs it fresh)."""

from __future__ import annotations

import contextlib
import os

import pytest

from mmsim import stack
from mmsim.runtime import config


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory):
    """``with private_stack(name, **env) as settings``: a stack of its own (Redis + four services, free ports)
    for a test module that breaks it or must see nobody else's state; ``env``: MMSIM_* settings."""

    @contextlib.contextmanager
    def start(name: str, **env: str):
        settings = stack.pick_free_settings(config.load(env), str(tmp_path_factory.mktemp(name)))
        try:
            stack.up(settings, timeout=60, tied=True)
            yield settings
        finally:
            stack.down(settings)

    return start


@pytest.fixture(scope="session")
def stack_settings(private_stack):
    with private_stack("mmsim-state", MMSIM_MEMORY="256MiB", MMSIM_LOG_LEVEL="info") as settings:
        yield settings


@pytest.fixture(scope="module")
def own_stack_settings(private_stack):
    """A private stack for this module only (the CLI and README tests reset it, stop it and start it again)."""
    with private_stack("mmsim-own", MMSIM_MEMORY="256MiB", MMSIM_LOG_LEVEL="info") as settings:
        yield settings


@pytest.fixture()
def mm(stack_settings):
    """A client connected to the session's stack (mmsim.client.Cluster)."""
    from mmsim.client import Cluster  # noqa: PLC0415

    with Cluster.connect(stack_settings) as c:
        yield c


@pytest.fixture(scope="session")
def model_examples() -> int:
    """Examples per configuration of the bytes-model property test (MMSIM_MODEL_EXAMPLES; issue 9 asks for 200)."""
    return int(os.environ.get("MMSIM_MODEL_EXAMPLES", "200"))


@pytest.fixture(scope="session")
def model_shrink() -> bool:
    """Shrink a failing example of the bytes-model test (MMSIM_MODEL_SHRINK=1): minutes per failure, so off
    by default; the failing program is printed either way and replays from the printed seed."""
    return os.environ.get("MMSIM_MODEL_SHRINK", "0") == "1"
