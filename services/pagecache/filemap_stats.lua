-- The XArray's shape for `mmsim xa stats`: entries, nodes, height, nrpages, zero pages, indexing, marks.
-- KEY and ARG: mmsim.pagecache.filemap.STATS.
local ino = fm_inode(KEY.inode)
local xa = xa_open(KEY.xa, ARG.chunk_shift)
local c = redis.call('HMGET', KEY.inode, 'xa_folio_entries', 'xa_hole_entries')
local folios, holes = tonumber(c[1]) or 0, tonumber(c[2]) or 0
local tagged = ''
for m = 0, 2 do tagged = tagged .. (xa_marked(xa, m) and '1' or '0') end
return {'stats', folios + holes, folios, holes, xa.nnodes, (xa.rlevel or -1) + 1, ino.nrpages, ino.zero_pages, ino.mode, tagged}
