"""/proc formats byte-exact against mm/vmstat.c and fs/proc/meminfo.c."""

from __future__ import annotations

from mmsim.allocator import procfs
from mmsim.allocator.allocator import AllocatorService
from mmsim.allocator.zones import Layout


def test_buddyinfo_format_exact():
    zones = [{"node": 0, "zone": "DMA", **{f"nr_free:{o}": o for o in range(11)}},
             {"node": 0, "zone": "Normal", **{f"nr_free:{o}": 123456 if o == 0 else 0 for o in range(11)}}]  # fmt: skip
    assert procfs.buddyinfo(zones) == (
        "Node 0, zone      DMA      0      1      2      3      4      5      6      7      8      9     10 \n"
        "Node 0, zone   Normal 123456      0      0      0      0      0      0      0      0      0      0 \n"
    )


def test_meminfo_show_val_kb():
    assert procfs.show_val_kb("MemTotal", 4096000) == "MemTotal:       16384000 kB\n"
    assert procfs.show_val_kb("MemFree", 1) == "MemFree:               4 kB\n"


async def test_service_proc_files(aredis):
    svc = AllocatorService(aredis, Layout.build(64 << 20, 1))
    await svc.buddy.init_memory()
    text = await svc.buddyinfo()
    assert text == (
        "Node 0, zone      DMA      0      0      0      0      0      0      0      0      0      0      4 \n"
        "Node 0, zone    DMA32      0      0      0      0      0      0      0      0      0      0     12 \n"
    )
    await svc.alloc_pages(0, "GFP_KERNEL")
    assert (await svc.buddyinfo()).splitlines()[1] == (
        "Node 0, zone    DMA32      1      1      1      1      1      1      1      1      1      1     11 "
    )
    vm = await svc.vmstat()
    assert vm["nr_free_pages"] == 16383 and vm["pgalloc_dma32"] == 1
    text = await svc.vmstat_text()
    assert text.startswith("nr_free_pages 16383\nnr_inactive_anon 0\nnr_active_anon 0\nnr_inactive_file 0\n")
    assert "\nnr_anon_pages 0\nnr_mapped 0\nnr_file_pages 0\n" in text
    assert "\npgalloc_dma 0\npgalloc_dma32 1\n" in text
    mi = await svc.meminfo_text()
    assert mi.startswith("MemTotal:          65536 kB\nMemFree:           65532 kB\n")
    pt = await svc.pagetypeinfo()
    assert "Node    0, zone    DMA32, type    Unmovable      1      1      1      1      1      1      1      1      1      1      0 \n" in pt
    assert pt.startswith("Page block order: 9\nPages per block:  512\n\nFree pages count per migrate type at order       0      1")
