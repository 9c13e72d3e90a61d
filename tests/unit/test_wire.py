from mmsim.allocator import gfp as G
from mmsim.runtime.wire import gfp_from_proto, gfp_to_proto


def test_gfp_round_trips_through_the_wire():
    for mask in (G.GFP_KERNEL, G.GFP_NOFS, G.GFP_ATOMIC, G.GFP_HIGHUSER_MOVABLE | G.GFP["__GFP_COMP"], 0):
        assert gfp_from_proto(gfp_to_proto(int(mask))) == int(mask)


def test_gfp_kernel_is_reclaim_io_fs():
    names = {f for f in gfp_to_proto(int(G.GFP_KERNEL)).flags}
    assert len(names) == 4
