"""``make demo``: a private stack on free ports, one file fault watched hop by hop, then a clean stop."""

from __future__ import annotations


from mmsim import stack
from mmsim.client import PAGE_SIZE, Cluster


def scenario(mm: Cluster) -> None:
    fs = mm.mkfs("xfs0", block_size=16384)
    print(f"mkfs {fs.name}: block size {fs.block_size} bytes (> PAGE_SIZE {PAGE_SIZE}), profile {fs.profile}")
    f = fs.create("/data/a")
    f.write(0, b"hello" * 1000)
    print(f"created {f.path} as mapping {f.mapping}, wrote {f.stat().i_size} bytes")
    f.fsync()
    dropped = f.fadvise_dontneed()
    print(f"fsync, then POSIX_FADV_DONTNEED dropped {dropped.folios_removed} clean folio(s) "
          f"({dropped.pages_freed} pages) from the page cache")
    proc = mm.spawn("reader")
    vma = proc.mmap(f, length=1 << 20, prot="r", shared=True)
    print(f"pid {proc.pid} mapped it at {vma.start:#x}-{vma.end:#x}")

    major = proc.fault(vma.start + PAGE_SIZE)
    print(f"\nfirst touch of {vma.start + PAGE_SIZE:#x}: {major.vm_fault}  pfn {major.pfn:#x}, "
          f"folio order {major.folio_order}, {major.pages_mapped} PTEs installed")
    print(mm.trace(major.trace_id).render())

    other = mm.spawn("reader2")
    vma2 = other.mmap(f, length=1 << 20, prot="r", shared=True)
    minor = other.fault(vma2.start + PAGE_SIZE)
    print(f"\nsame page from pid {other.pid}: {minor.vm_fault} (minor: found in the page cache)")
    print(mm.trace(minor.trace_id).render())

    beyond = proc.fault(vma.start + 512 * 1024)
    print(f"\nfault beyond EOF (i_size 5000): {beyond.vm_fault}")
    print(f"\nread through the mapping: {proc.read(vma.start, 15)!r}")


def run() -> int:
    print("starting redis-server and four services on free ports ...")
    try:
        with stack.private(prefix="mmsim-demo-") as settings, Cluster.connect(settings) as mm:
            print(f"(state in {settings.state_dir})")
            scenario(mm)
    finally:
        print("\nstack stopped")
    return 0
