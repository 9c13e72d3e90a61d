"""A cluster-wide check parks kswapd (mmsim.runtime.kthread): it does not read the machine while a kswapd pass
is between taking its folios and freeing them, and kswapd goes on once the check is over.

The stack pauses every kswapd pass at ``kswapd:pass`` (MMSIM_FAULT_INJECT): the pass has unmapped its folios
and taken them from the page cache, their free is next. Without the park a check run there would read PTEs
first and free pages later (``mapcount_mismatch``) or in-flight entries whose page was just freed
(``ledger_not_allocated``), the false violations `make soak`'s pressure workload met.
"""

from __future__ import annotations

import threading

import pytest
import redis

from mmsim.client import Cluster
from mmsim.runtime import keys

from pause import Pause

POINT = "kswapd:pass"


@pytest.fixture(scope="module")
def paused(private_stack):
    # leases far longer than the test: the paused pass's must not run out while the check waits for it
    with private_stack("mmsim-kthread", MMSIM_MEMORY="4MiB", MMSIM_LOG_LEVEL="info", MMSIM_LOCK_LEASE_MS="600000",
                       MMSIM_FAULT_INJECT=f"pause:{POINT}") as settings:
        yield settings


def _write_more_than_memory(settings, errors: list) -> None:
    try:
        with Cluster.connect(settings) as mm:
            f = mm.mkfs("kthread").create("/big")
            for off in range(0, 6 << 20, 256 << 10):   # 6 MiB through a 4 MiB machine
                f.write(off, bytes([off >> 18 & 0xFF]) * (256 << 10))
            f.fsync()
    except Exception as exc:   # noqa: BLE001 - reported by the test's thread
        errors.append(exc)


def test_a_check_waits_for_the_kswapd_pass_under_way_and_kswapd_goes_on_after(paused):
    pause = Pause(paused, POINT)
    r = redis.Redis.from_url(paused.redis_url)
    with Cluster.connect(paused) as mm:
        mm.reset()
        writer_errors: list = []
        writer = threading.Thread(target=_write_more_than_memory, args=(paused, writer_errors), daemon=True)
        writer.start()
        assert pause.reached(), "no kswapd pass began under pressure"
        reports: list = []
        check = threading.Thread(target=lambda: reports.append(mm.check()), daemon=True)
        check.start()
        parkers = keys.cluster("kthread:parkers")
        while not r.zcard(parkers) and check.is_alive():   # bounded: the check parks at once, or ends
            check.join(timeout=0.05)
        check.join(timeout=2)
        assert check.is_alive(), "the check read the machine while a kswapd pass was half done"
        assert r.zcard(parkers) == 1 and r.zcard(keys.cluster("kthread:passes")) >= 1
        pause.resume(tasks=100000)                     # this pass and every later one go on
        check.join(timeout=120)
        assert not check.is_alive() and reports, "the check did not go on once the pass ended"
        writer.join(timeout=300)
        assert not writer.is_alive() and not writer_errors, writer_errors
        assert r.zcard(keys.cluster("kthread:parkers")) == 0   # unparked
        after = mm.check()
        assert after.ok, after.violations[:5]
        vm = mm.vmstat()
        assert vm["pgsteal_kswapd"] > 0                # kswapd reclaimed, after the check as well as before
