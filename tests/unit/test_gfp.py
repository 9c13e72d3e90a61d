"""GFP composition, %pGg formatting, current_gfp_context, gfp_to_alloc_flags, gfp_zone."""

from __future__ import annotations

import pytest

from mmsim.allocator import gfp as G
from mmsim.runtime.errors import InvalidArgument
from mmsim.runtime.scope import Memalloc


def test_composites_have_kernel_values():
    assert int(G.GFP_KERNEL) == 0xCC0
    assert int(G.GFP_NOFS) == 0xC40
    assert int(G.GFP_NOIO) == 0xC00
    assert int(G.GFP_ATOMIC) == 0x820
    assert int(G.GFP_HIGHUSER_MOVABLE) == 0x100CCA
    assert int(G.GFP_TRANSHUGE_LIGHT) == 0x1C20CA  # no reclaim bits
    assert int(G.GFP_TRANSHUGE) == 0x1C24CA
    assert int(G.GFP["__GFP_NOLOCKDEP"]) == 0x4000000


def test_format_like_pGg():
    assert G.format_gfp(G.GFP_KERNEL) == "GFP_KERNEL"
    assert G.format_gfp(G.GFP_KERNEL | G.GFP["__GFP_ZERO"]) == "GFP_KERNEL|__GFP_ZERO"
    assert G.describe_gfp(G.GFP_HIGHUSER_MOVABLE | G.GFP["__GFP_COMP"]) == "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)"
    assert G.format_gfp(G.GFP_TRANSHUGE) == "GFP_TRANSHUGE"
    assert G.format_gfp(0x8000000) == "0x8000000"
    assert G.format_gfp(0) == ""


def test_parse_roundtrip():
    for m in (G.GFP_KERNEL, G.GFP_NOFS | G.GFP["__GFP_NOFAIL"], G.GFP_TRANSHUGE_LIGHT, G.GFP_ATOMIC):
        assert G.parse_gfp(G.format_gfp(m)) == int(m)
    assert G.parse_gfp("0xcc0(GFP_KERNEL)") == 0xCC0
    assert G.parse_gfp("GFP_KERNEL | zero") == 0xDC0
    with pytest.raises(InvalidArgument, match="unknown gfp flag"):
        G.parse_gfp("GFP_BOGUS")


def test_current_gfp_context_noio_wins():
    assert G.current_gfp_context(G.GFP_KERNEL, Memalloc.PF_MEMALLOC_NOFS) == int(G.GFP_NOFS)
    assert G.current_gfp_context(G.GFP_KERNEL, Memalloc.PF_MEMALLOC_NOIO) == int(G.GFP_NOIO)
    both = Memalloc.PF_MEMALLOC_NOFS | Memalloc.PF_MEMALLOC_NOIO
    assert G.current_gfp_context(G.GFP_KERNEL, both) == int(G.GFP_NOIO)
    assert G.current_gfp_context(G.GFP_ATOMIC, both) == int(G.GFP_ATOMIC)


def test_alloc_flags():
    k = G.gfp_to_alloc_flags(G.GFP_KERNEL)
    assert k & G.ALLOC_WMARK_MASK == G.ALLOC_WMARK_MIN and not k & G.ALLOC_RESERVES
    a = G.gfp_to_alloc_flags(G.GFP_ATOMIC, 1)
    assert a & G.ALLOC_MIN_RESERVE and a & G.ALLOC_NON_BLOCK and a & G.ALLOC_HIGHATOMIC and not a & G.ALLOC_CPUSET
    w = G.gfp_to_alloc_flags(G.GFP_NOWAIT)
    assert w & G.ALLOC_NON_BLOCK and not w & G.ALLOC_MIN_RESERVE
    assert G.gfp_to_alloc_flags(G.GFP_ATOMIC | G.GFP["__GFP_NOMEMALLOC"]) & G.ALLOC_NON_BLOCK == 0
    assert G.gfp_to_alloc_flags(G.GFP_KERNEL | G.GFP["__GFP_MEMALLOC"]) & G.ALLOC_NO_WATERMARKS
    assert G.format_alloc_flags(k) == "ALLOC_WMARK_MIN|ALLOC_CPUSET|ALLOC_KSWAPD"


def test_zone_and_migratetype():
    assert G.gfp_zone(G.GFP_KERNEL) == G.ZONE_NORMAL
    assert G.gfp_zone(G.GFP_DMA) == G.ZONE_DMA
    assert G.gfp_zone(G.GFP_DMA32) == G.ZONE_DMA32
    assert G.gfp_zone(G.GFP_HIGHUSER_MOVABLE) == G.ZONE_MOVABLE
    assert G.gfp_zone(G.GFP_HIGHUSER) == G.ZONE_NORMAL
    assert G.gfp_migratetype(G.GFP_KERNEL) == G.MIGRATE_UNMOVABLE
    assert G.gfp_migratetype(G.GFP_HIGHUSER_MOVABLE) == G.MIGRATE_MOVABLE
    assert G.gfp_migratetype(G.GFP["__GFP_RECLAIMABLE"]) == G.MIGRATE_RECLAIMABLE
    with pytest.raises(InvalidArgument):
        G.gfp_zone(G.GFP_DMA | G.GFP_DMA32)
