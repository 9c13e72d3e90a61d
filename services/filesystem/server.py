"""FilesystemService: thin gRPC wiring over the logic modules of mmsim.filesystem."""

from __future__ import annotations

from mmsim.filesystem import (debug_vm, evict, fileio, inode, intents, pageout, populate, reflink, superblock, truncate,
                              writeback)
from mmsim.filesystem.env import Env
from mmsim.filesystem.ports import GrpcPorts
from mmsim.runtime import keys, serve, tracing
from mmsim.runtime.errors import require
from mmsim.runtime.wire import gfp_from_proto, indexing_from_proto, indexing_to_proto
from mmsim.v1 import common_pb2, filesystem_pb2, filesystem_pb2_grpc


def _indexing(value: int) -> str:
    require(value in filesystem_pb2.Indexing.values(), f"indexing must be a known Indexing value, got {value}")
    return indexing_from_proto(value)


class FilesystemServicer(filesystem_pb2_grpc.FilesystemServiceServicer):
    def __init__(self, ctx):
        self._ctx = ctx
        self.env = Env(ctx.redis, GrpcPorts(ctx.peers), default_profile=ctx.settings.profile, settings=ctx.settings)
        # interrupted truncates/punches/unlinks/reflinks: finished at start, then every recovery interval
        ctx.recovery.append(self._recover)

    async def _recover(self, older_than_ms: int) -> int:
        """The filesystem's recovery pass, one of the service's (at start, every MMSIM_RECOVERY_INTERVAL_S, on
        Recover): interrupted operations finished (intents), then every due eviction, an orphan nothing maps
        any more whose EvictInode a crash lost (iput_final that never ran: the reverse map died after the
        last unmap). It frees no page itself (the page cache's truncate does), so it counts none."""
        await intents.recovery_pass(self.env)
        for name in await self.env.redis.smembers(keys.cluster("filesystems")):
            await evict.evict_due(self.env, name.decode())
        return 0

    async def Mkfs(self, request, context):
        sb = await superblock.mkfs(self.env.redis, request.name, request.block_size, request.profile,
                                   request.max_folio_order if request.HasField("max_folio_order") else None,
                                   self.env.default_profile, request.alloc_context, _indexing(request.indexing))
        return filesystem_pb2.MkfsResponse(name=sb.name, block_size=sb.block_size, profile=sb.profile.name,
                                           min_folio_order=sb.min_order, max_folio_order=sb.max_order,
                                           populate_policy=sb.policy, indexing=indexing_to_proto(sb.profile.indexing))

    async def StatFs(self, request, context):
        sb = await superblock.load(self.env.redis, request.name)
        return filesystem_pb2.StatFsResponse(name=sb.name, block_size=sb.block_size, profile=sb.profile.name,
                                             min_folio_order=sb.min_order, max_folio_order=sb.max_order,
                                             populate_policy=sb.policy, indexing=indexing_to_proto(sb.profile.indexing),
                                             alloc_context=sb.profile.fs_alloc_context, blocks_used=sb.blocks_used)

    async def Create(self, request, context):
        ino = await inode.create(self.env.redis, request.fs, request.path, _indexing(request.indexing))
        return filesystem_pb2.CreateResponse(mapping=ino.mapping, ino=ino.ino)

    async def Write(self, request, context):
        written, i_size = await fileio.write(self.env, request.mapping, request.offset, request.data)
        return filesystem_pb2.WriteResponse(written=written, i_size=i_size)

    async def Read(self, request, context):
        return filesystem_pb2.ReadResponse(data=await fileio.read(self.env, request.mapping, request.offset, request.length))

    async def Stat(self, request, context):
        ino, blocks, shared = await inode.stat(self.env.redis, request.mapping)
        return filesystem_pb2.StatResponse(mapping=ino.mapping, path=ino.path, i_size=ino.i_size, blocks=blocks,
                                           block_size=ino.block_size, nrpages=ino.nrpages, nlink=ino.nlink,
                                           profile=ino.profile.name, min_folio_order=ino.min_order,
                                           shared_blocks=shared, indexing=indexing_to_proto(ino.profile.indexing),
                                           orphan=ino.nlink == 0, fs_orphans=await evict.count(self.env.redis, ino.fs))

    async def Populate(self, request, context):
        res = await populate.populate(self.env, request.mapping, request.index,
                                      list(request.gfp.flags) if request.HasField("gfp") else None, request.write)
        resp = filesystem_pb2.PopulateResponse(
            folio_index=res.folio_index, raced=res.raced, vm_fault=res.vm_fault.to_proto(), zero_entry=res.zero_entry,
            zero_order=res.zero_order, policy=res.policy, memalloc_scope=res.memalloc_scope, ra_order=res.ra_order,
            attempts=[filesystem_pb2.PopulateAttempt(order=a.order, ok=a.ok, reason=a.reason) for a in res.attempts])
        if res.folio is not None:
            resp.folio.CopyFrom(common_pb2.Folio(pfn=res.folio.pfn, order=res.folio.order, node=res.folio.node))
        return resp

    async def Unlink(self, request, context):
        mapping, orphaned, freed = await truncate.unlink(self.env, request.fs, request.path, request.mapping)
        return filesystem_pb2.UnlinkResponse(mapping=mapping, orphaned=orphaned, blocks_freed=freed)

    async def Truncate(self, request, context):
        st = await truncate.truncate(self.env, request.mapping, request.size)
        return filesystem_pb2.TruncateResponse(**vars(st))

    async def PunchHole(self, request, context):
        st = await truncate.punch_hole(self.env, request.mapping, request.offset, request.length)
        d = vars(st)
        return filesystem_pb2.PunchHoleResponse(**{k: d[k] for k in filesystem_pb2.PunchHoleResponse.DESCRIPTOR.fields_by_name})

    async def Fsync(self, request, context):
        st = await writeback.fsync(self.env, request.mapping)
        tracing.annotate(folios_written=st.folios_written)
        return filesystem_pb2.FsyncResponse(**vars(st))

    async def Pageout(self, request, context):
        st = await pageout.pageout(self.env, request.mapping, list(request.indices),
                                   gfp_from_proto(request.gfp) if request.gfp.flags else 0)
        return filesystem_pb2.PageoutResponse(folios_written=st.folios_written, blocks_written=st.blocks_written)

    async def Reflink(self, request, context):
        st = await reflink.reflink(self.env, request.src_mapping, request.src_offset, request.dst_mapping,
                                   request.dst_offset, request.length, request.share_folios)
        return filesystem_pb2.ReflinkResponse(**vars(st))

    async def EvictInode(self, request, context):
        st = await evict.evict(self.env, request.mapping)
        tracing.annotate(evicted=st.evicted)
        return filesystem_pb2.EvictInodeResponse(**vars(st))


async def register(server, ctx) -> list[str]:
    svc = FilesystemServicer(ctx)
    ctx.checker = lambda report: debug_vm.check(svc.env, report)
    filesystem_pb2_grpc.add_FilesystemServiceServicer_to_server(svc, server)
    return [filesystem_pb2.DESCRIPTOR.services_by_name["FilesystemService"].full_name]


if __name__ == "__main__":
    serve.run("filesystem", register)
