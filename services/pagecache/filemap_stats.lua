-- The XArray's shape for `mmsim xa stats`: entries, nodes, height, nrpages, zero pages, indexing, marks.
-- KEYS: 1 inode, 2 xa. ARGV: 1 chunk shift.
local ino = fm_inode(KEYS[1])
local xa = xa_open(KEYS[2], ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'xa_folio_entries', 'xa_hole_entries')
local folios, holes = tonumber(c[1]) or 0, tonumber(c[2]) or 0
local tagged = ''
for m = 0, 2 do tagged = tagged .. (xa_marked(xa, m) and '1' or '0') end
return {folios + holes, folios, holes, xa.nnodes, (xa.rlevel or -1) + 1, ino.nrpages, ino.zero_pages, ino.mode, tagged}
