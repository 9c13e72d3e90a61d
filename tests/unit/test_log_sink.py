"""The loggers are cached on first use, so they must not hold a stream that closes: an in-process stack writes
its services' lines to a file it closes at stop, and the same process logs on afterwards (a test suite, a
notebook). Before the sink, the next line raised "I/O operation on closed file" (a make-test failure here)."""

from __future__ import annotations

import structlog

from mmsim.runtime import logs


def test_a_cached_logger_outlives_the_stream_it_wrote_to(tmp_path, capsys):
    path = tmp_path / "inproc.log"
    with open(path, "a", buffering=1) as f:
        logs.setup("sink-test", stream=f)
        log = structlog.get_logger("mmsim.sink-test")
        log.warning("to the file")
        logs.redirect(None)
    log.warning("after the file closed")
    assert "to the file" in path.read_text() and "after the file closed" not in path.read_text()
    assert "after the file closed" in capsys.readouterr().out
