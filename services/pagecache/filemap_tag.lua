-- folio_mark_dirty / __folio_start_writeback / folio_end_writeback on the XArray marks (fenced).
-- KEY, ARG and replies: mmsim.pagecache.filemap.TAG.
local ino = fm_inode(KEY.inode)
local xa = xa_open(KEY.xa, ARG.chunk_shift)
vm_spans(ARG.spans)
local f = fm_lookup(xa, ino, tonumber(ARG.index))
if f.kind ~= 'folio' then fm_fail('NotFound', 'no folio at index ' .. ARG.index .. ' of ' .. KEY.inode) end
FM_TAG.set(xa, ino, f, tonumber(ARG.mark), ARG.clear ~= '1')
xa_commit(xa)
return {'tagged'}
