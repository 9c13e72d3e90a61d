"""Conversions between the wire types of protos/mmsim/v1/common.proto and plain ints."""

from __future__ import annotations

from mmsim.v1 import common_pb2, filesystem_pb2

_GFP_BITS = [v.number for v in common_pb2.GfpFlag.DESCRIPTOR.values if v.number]


def gfp_from_proto(mask: common_pb2.GfpMask) -> int:
    """GfpMask -> gfp_t (the OR of the __GFP_* bit values)."""
    out = 0
    for flag in mask.flags:
        out |= int(flag)
    return out


def gfp_to_proto(gfp: int) -> common_pb2.GfpMask:
    """gfp_t -> GfpMask; bits the wire enum does not name are refused."""
    unknown = gfp & ~sum(_GFP_BITS)
    if unknown:
        raise ValueError(f"gfp bits {unknown:#x} have no GfpFlag")
    return common_pb2.GfpMask(flags=[b for b in _GFP_BITS if gfp & b])


# mapping_gfp_mask of a page-cache file (GFP_HIGHUSER_MOVABLE, include/linux/gfp_types.h), on the wire
GFP_HIGHUSER_MOVABLE = common_pb2.GfpMask(flags=[
    common_pb2.GFP_FLAG_DIRECT_RECLAIM, common_pb2.GFP_FLAG_KSWAPD_RECLAIM, common_pb2.GFP_FLAG_IO,
    common_pb2.GFP_FLAG_FS, common_pb2.GFP_FLAG_HARDWALL, common_pb2.GFP_FLAG_HIGHMEM, common_pb2.GFP_FLAG_MOVABLE,
])


def indexing_to_proto(mode: str) -> int:
    """"multi-order" / "order-0" / "hugetlb" -> the Indexing enum ("" -> INDEXING_UNSPECIFIED)."""
    return filesystem_pb2.Indexing.Value("INDEXING_" + mode.upper().replace("-", "_")) if mode else 0


def indexing_from_proto(value: int) -> str:
    """The Indexing enum -> "multi-order" / "order-0" / "hugetlb" (UNSPECIFIED -> "")."""
    return filesystem_pb2.Indexing.Name(value).removeprefix("INDEXING_").lower().replace("_", "-") if value else ""
