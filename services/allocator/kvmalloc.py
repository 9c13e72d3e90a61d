"""kmalloc / vmalloc / kvmalloc / kvfree, kvmalloc_array, kvcalloc, kvmalloc_struct, malloc / free.

Models mm/util.c kvmalloc_node (2018) and mm/slub.c __kvmalloc_node_noprof + kmalloc_gfp_adjust
(current), include/linux/slab.h kvmalloc_array, include/linux/overflow.h size_mul/size_add/struct_size.

Addresses are x86-64 kernel virtual addresses: kmalloc memory is in the direct map
(PAGE_OFFSET 0xffff888000000000 + pfn * 4096), vmalloc memory in VMALLOC_START 0xffffc90000000000 +
(node << 36) + area page * 4096, so kvfree tells them apart with is_vmalloc_addr like the kernel.
There is no slab layer: kmalloc(size) is one physically contiguous block of get_order(size) pages
(a compound page, __GFP_COMP), so sizes below PAGE_SIZE still take one page. kmalloc(0) returns
ZERO_SIZE_PTR (16); kfree/kvfree of NULL or ZERO_SIZE_PTR do nothing.

Flavours of the contiguous attempt for size > PAGE_SIZE, chosen by the profile's kvmalloc_flavour
(mmsim.runtime.profiles: lsfmm2018 and linux-6.12 -> noretry, linux-7.3 -> nodirectreclaim):
* ``noretry`` (4.12 .. ~6.15): add __GFP_NOWARN, add __GFP_NORETRY unless __GFP_RETRY_MAYFAIL. Under
  the lsfmm2018 profile a mask that is not GFP_KERNEL-compatible (lacks __GFP_IO or __GFP_FS) also gets
  a plain kmalloc with no vmalloc fallback, as 4.12's kvmalloc_node did.
* ``nodirectreclaim`` (the fact sheet dates it ~6.16): add __GFP_NOWARN, strip __GFP_NOFAIL, strip
  __GFP_DIRECT_RECLAIM unless __GFP_RETRY_MAYFAIL.
In both, sizes <= PAGE_SIZE are kmalloc only, sizes > INT_MAX fail, the fallback is vmalloc with the
caller's mask (order-0 pages, all allocated in one round trip or none).

Overflow: we model the kernel's saturation: size_mul/size_add return SIZE_MAX on overflow, and an
allocation of SIZE_MAX fails. The failure is reported as InvalidArgument naming the product and that it
saturated, never as a wrapped small allocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from mmsim.allocator import gfp as G
from mmsim.allocator.buddy import Allocation, BuddyAllocator
from mmsim.allocator.zones import MAX_PAGE_ORDER, PAGE_SHIFT, PAGE_SIZE
from mmsim.runtime.errors import InvalidArgument, ResourceExhausted

log = structlog.get_logger("mmsim.allocator")

SIZE_MAX = (1 << 64) - 1
INT_MAX = (1 << 31) - 1
ZERO_SIZE_PTR = 16
PAGE_OFFSET = 0xFFFF888000000000
VMALLOC_START = 0xFFFFC90000000000
VMALLOC_END = 0xFFFFE8FFFFFFFFFF
VMALLOC_NODE_SHIFT = 36
KMALLOC_MAX_SIZE = 1 << (MAX_PAGE_ORDER + PAGE_SHIFT)
FLAVOURS = ("noretry", "nodirectreclaim")

_NOWARN = int(G.GFP["__GFP_NOWARN"])
_NORETRY = int(G.GFP["__GFP_NORETRY"])
_NOFAIL = int(G.GFP["__GFP_NOFAIL"])
_RETRY_MAYFAIL = int(G.GFP["__GFP_RETRY_MAYFAIL"])
_DIRECT_RECLAIM = int(G.GFP["__GFP_DIRECT_RECLAIM"])
_COMP = int(G.GFP["__GFP_COMP"])
_ZERO = int(G.GFP["__GFP_ZERO"])


def size_mul(a: int, b: int) -> int:
    """include/linux/overflow.h size_mul: a * b, SIZE_MAX on overflow."""
    r = a * b
    return SIZE_MAX if r > SIZE_MAX else r


def size_add(a: int, b: int) -> int:
    """include/linux/overflow.h size_add: a + b, SIZE_MAX on overflow (SIZE_MAX stays SIZE_MAX)."""
    r = a + b
    return SIZE_MAX if r > SIZE_MAX else r


def struct_size(header: int, element: int, count: int) -> int:
    """struct_size(p, member, n) = size_add(sizeof(*p), flex_array_size = size_mul(n, sizeof(elem)))."""
    return size_add(header, size_mul(element, count))


def get_order(size: int) -> int:
    """include/asm-generic/getorder.h get_order: smallest order with (PAGE_SIZE << order) >= size."""
    if size <= PAGE_SIZE:
        return 0
    return ((size - 1) >> PAGE_SHIFT).bit_length()


def _check_size_arg(name: str, v: int) -> None:
    if not isinstance(v, int) or v < 0 or v > SIZE_MAX:
        raise InvalidArgument(f"{name} = {v} is not a size_t (0..{SIZE_MAX})")


@dataclass
class KvAllocation:
    addr: int
    size: int
    kind: str  # "kmalloc" | "vmalloc" | "zero"
    nid: int = 0
    pfns: tuple[int, ...] = ()
    order: int = 0
    gfp_requested: int = 0
    gfp: int = 0
    kmalloc_gfp: int | None = None
    fallback_reason: str = ""
    trace: list[str] = field(default_factory=list)


def is_vmalloc_addr(addr: int) -> bool:
    return VMALLOC_START <= addr < VMALLOC_END


class KvMalloc:
    """The kvmalloc family over a BuddyAllocator."""

    def __init__(self, buddy: BuddyAllocator, profile: str = "lsfmm2018"):
        """``profile``: a mmsim.runtime.profiles name (its kvmalloc_flavour decides) or a flavour name."""
        if profile in FLAVOURS:
            self.flavour = profile
        else:
            from mmsim.runtime import profiles  # noqa: PLC0415

            self.flavour = profiles.get(profile).kvmalloc_flavour
        self.buddy = buddy
        self.profile = profile

    # ---- kmalloc -----------------------------------------------------------------------
    async def kmalloc(self, size: int, gfp: int = G.GFP_KERNEL, *, nid: int = 0, scope: int = 0) -> KvAllocation:
        """One physically contiguous compound block of get_order(size) pages (no slab caches)."""
        _check_size_arg("size", size)
        if size == 0:
            return KvAllocation(ZERO_SIZE_PTR, 0, "zero", gfp_requested=gfp, gfp=gfp)
        if size > KMALLOC_MAX_SIZE:
            if not int(gfp) & _NOWARN:
                log.warning("kmalloc: size exceeds KMALLOC_MAX_SIZE", size=size, max=KMALLOC_MAX_SIZE)
            raise ResourceExhausted(
                f"kmalloc: size {size} bytes > KMALLOC_MAX_SIZE {KMALLOC_MAX_SIZE} (order > MAX_PAGE_ORDER)"
            )
        order = get_order(size)
        a = await self.buddy.alloc_pages(order, int(gfp) | _COMP, nid=nid, scope=scope)
        return KvAllocation(
            PAGE_OFFSET + (a.pfn << PAGE_SHIFT), size, "kmalloc", a.nid, (a.pfn,), order, int(gfp), a.gfp,
            trace=[f"kmalloc order {order} mode:{G.describe_gfp(a.gfp)} -> pfn {a.pfn}"],
        )  # fmt: skip

    async def kfree(self, addr: int) -> None:
        if addr in (0, ZERO_SIZE_PTR):
            return
        if not PAGE_OFFSET <= addr < PAGE_OFFSET + (self.buddy.layout.total_pages << PAGE_SHIFT):
            raise InvalidArgument(f"kfree: {addr:#x} is not a direct-map (kmalloc) address")
        if addr % PAGE_SIZE:
            raise InvalidArgument(f"kfree: {addr:#x} is not the start of a kmalloc allocation (not page aligned)")
        await self.buddy.free_pages_any_order((addr - PAGE_OFFSET) >> PAGE_SHIFT)

    # ---- vmalloc -----------------------------------------------------------------------
    async def vmalloc(self, size: int, gfp: int = G.GFP_KERNEL, *, nid: int = 0, scope: int = 0) -> KvAllocation:
        """Models mm/vmalloc.c __vmalloc_node: order-0 pages, all or none, one round trip."""
        _check_size_arg("size", size)
        if size == 0:
            raise InvalidArgument("vmalloc: size 0")
        total = self.buddy.layout.memory_bytes
        if size > total:
            if not int(gfp) & _NOWARN:
                log.warning(f"vmalloc error: size {size}, exceeds total pages")
            raise ResourceExhausted(f"vmalloc error: size {size} bytes exceeds all of memory ({total} bytes)")
        npages = (size + PAGE_SIZE - 1) >> PAGE_SHIFT
        try:
            a: Allocation = await self.buddy.alloc_pages(
                0, int(gfp) | _NOWARN, nid=nid, scope=scope, count=npages, vmalloc_size=size
            )
        except ResourceExhausted as exc:
            if not int(gfp) & _NOWARN:
                log.warning(f"vmalloc error: size {size}, failed to allocate pages", mode=G.describe_gfp(gfp))
            raise ResourceExhausted(f"vmalloc error: size {size}, failed to allocate pages: {exc.message}") from None
        addr = VMALLOC_START + (a.nid << VMALLOC_NODE_SHIFT) + (a.vmalloc_area << PAGE_SHIFT)
        return KvAllocation(
            addr, size, "vmalloc", a.nid, a.pfns, 0, int(gfp), a.gfp,
            trace=[f"vmalloc {npages} order-0 pages mode:{G.describe_gfp(a.gfp)}"],
        )  # fmt: skip

    async def vfree(self, addr: int) -> int:
        if addr == 0:
            return 0
        if not is_vmalloc_addr(addr) or addr % PAGE_SIZE:
            raise InvalidArgument(f"vfree: {addr:#x} is not the start of a vmalloc area")
        off = addr - VMALLOC_START
        nid = off >> VMALLOC_NODE_SHIFT
        if nid >= len(self.buddy.layout.nodes):
            raise InvalidArgument(f"vfree: {addr:#x} is not a vmalloc area of any node")
        area = (off & ((1 << VMALLOC_NODE_SHIFT) - 1)) >> PAGE_SHIFT
        return await self.buddy.free_vmalloc_area(nid, area)

    # ---- kvmalloc ----------------------------------------------------------------------
    def kmalloc_gfp_adjust(self, gfp: int, size: int) -> int:
        """The contiguous attempt's mask for size > PAGE_SIZE, per profile (see module docstring)."""
        gfp = int(gfp)
        if size <= PAGE_SIZE:
            return gfp
        if self.flavour == "noretry":
            gfp |= _NOWARN
            if not gfp & _RETRY_MAYFAIL:
                gfp |= _NORETRY
            return gfp
        gfp = (gfp | _NOWARN) & ~_NOFAIL
        if not gfp & _RETRY_MAYFAIL:
            gfp &= ~_DIRECT_RECLAIM
        return gfp

    async def kvmalloc(self, size: int, gfp: int = G.GFP_KERNEL, *, nid: int = 0, scope: int = 0) -> KvAllocation:
        """Models kvmalloc_node: kmalloc first (cheaply, for size > PAGE_SIZE), then vmalloc."""
        _check_size_arg("size", size)
        gfp = int(gfp)
        if size == SIZE_MAX:
            raise InvalidArgument(f"kvmalloc: size is SIZE_MAX ({SIZE_MAX}): a saturated size computation; the allocation fails")
        if size > INT_MAX:
            if not gfp & _NOWARN:
                log.warning("kvmalloc: size > INT_MAX", size=size)
            raise ResourceExhausted(f"kvmalloc: size {size} bytes > INT_MAX ({INT_MAX}): refused")
        if self.profile == "lsfmm2018" and gfp & int(G.GFP_KERNEL) != int(G.GFP_KERNEL):
            a = await self.kmalloc(size, gfp, nid=nid, scope=scope)
            a.trace.append("lsfmm2018: mask is not GFP_KERNEL-compatible: plain kmalloc, no vmalloc fallback")
            return a
        kgfp = self.kmalloc_gfp_adjust(gfp, size)
        reason = ""
        if size <= KMALLOC_MAX_SIZE:
            try:
                a = await self.kmalloc(size, kgfp, nid=nid, scope=scope)
                a.gfp_requested, a.kmalloc_gfp = gfp, kgfp
                return a
            except ResourceExhausted as exc:
                if size <= PAGE_SIZE:
                    raise
                reason = exc.message
        else:
            reason = f"size {size} > KMALLOC_MAX_SIZE {KMALLOC_MAX_SIZE}"
        v = await self.vmalloc(size, gfp, nid=nid, scope=scope)
        v.gfp_requested, v.kmalloc_gfp, v.fallback_reason = gfp, kgfp, reason
        v.trace.insert(0, f"kmalloc attempt mode:{G.describe_gfp(kgfp)} failed: {reason}")
        return v

    async def kvfree(self, addr: int) -> None:
        """Models kvfree: vfree for vmalloc addresses, kfree otherwise."""
        if is_vmalloc_addr(addr):
            await self.vfree(addr)
        else:
            await self.kfree(addr)

    async def kvmalloc_array(self, n: int, size: int, gfp: int = G.GFP_KERNEL, **kw) -> KvAllocation:
        """kvmalloc_array(n, size): overflow of n * size -> InvalidArgument (saturated to SIZE_MAX)."""
        _check_size_arg("n", n)
        _check_size_arg("size", size)
        bytes_ = size_mul(n, size)
        if bytes_ == SIZE_MAX:
            raise InvalidArgument(
                f"kvmalloc_array: n * size = {n} * {size} overflows size_t; size_mul saturates to SIZE_MAX "
                f"({SIZE_MAX}) and the allocation fails"
            )
        return await self.kvmalloc(bytes_, gfp, **kw)

    async def kvcalloc(self, n: int, size: int, gfp: int = G.GFP_KERNEL, **kw) -> KvAllocation:
        return await self.kvmalloc_array(n, size, int(gfp) | _ZERO, **kw)

    async def kvmalloc_struct(self, header: int, element: int, count: int, gfp: int = G.GFP_KERNEL, **kw) -> KvAllocation:
        """Wilcox's 2018 kvmalloc_struct (never merged) with struct_size semantics."""
        for name, v in (("header size", header), ("element size", element), ("count", count)):
            _check_size_arg(name, v)
        bytes_ = struct_size(header, element, count)
        if bytes_ == SIZE_MAX:
            raise InvalidArgument(
                f"kvmalloc_struct: struct_size = {header} + {element} * {count} overflows size_t; saturates to "
                f"SIZE_MAX ({SIZE_MAX}) and the allocation fails"
            )
        return await self.kvmalloc(bytes_, gfp, **kw)

    async def malloc(self, size: int, **kw) -> KvAllocation:
        """malloc(size) = kvmalloc(size, GFP_KERNEL)."""
        return await self.kvmalloc(size, G.GFP_KERNEL, **kw)

    async def free(self, addr: int) -> None:
        """free(ptr) = kvfree(ptr)."""
        await self.kvfree(addr)
