-- mmsim truncation library: mm/truncate.c over the page cache, the split library (huge_memory.lua) and the
-- reverse map's walk, so that no PTE ever keeps a folio the page cache let go of. Functions are fields of TR.
--
-- truncate_inode_pages_range(lstart, lend) here: every entry overlapping the byte range is looked at once.
--   zero entry   the pages of it wholly inside the range go; the rest stays covered (trimmed/split);
--   shadow       a workingset shadow overlapping the range goes whole (clear_shadow_entries);
--   whole folio  truncate_inode_folio: unmapped where still mapped (truncate_cleanup_folio), then deleted;
--   partial      truncate_inode_partial_folio: the cut bytes zeroed, then a large folio split to the mapping's
--                minimum order at the page holding lstart (folio_split_or_unmap), and -- after a non-uniform
--                split -- again at the page holding lend + 1; the new folios wholly inside the range are
--                deleted (the kernel's second pass), and so are the new folios at or past EOF (__folio_split's
--                end = DIV_ROUND_UP(i_size)). A refused split unmaps the whole folio so the next
--                access refaults, then a clean folio is deleted (it can be read again), a dirty one kept.

local TR = {removed = 0, zeroed = 0, split = 0, failed = 0, unmapped = 0}

-- truncate_inode_folio: truncate_cleanup_folio (unmap_mapping_folio if mapped) + filemap_remove_folio
function TR.remove(xa, ino, mapping, f)
  vm_node(f.node)
  if page_get_field(f.pfn, 'refcount') > 1 then
    TR.unmapped = TR.unmapped + rm_unmap_folio(mapping, f.index, XA_POW2[f.order], f.node, f.pfn)
  end
  TR.removed = TR.removed + 1
  fm_remove(xa, ino, f)
end

-- folio_split_or_unmap: the new folios, or nil after unmapping the whole folio (the split was refused)
function TR.split_or_unmap(xa, ino, mapping, f, at, min, uniform)
  local pieces = HM.split(xa, ino, mapping, f, min, at, uniform)
  if pieces then
    TR.split = TR.split + 1
    return pieces
  end
  TR.failed = TR.failed + 1
  TR.unmapped = TR.unmapped + rm_unmap_folio(mapping, f.index, XA_POW2[f.order], f.node, f.pfn)
  return nil
end

-- folio_zero_range over the bytes [offset, offset + length) of f (only what its mem string holds: the rest
-- reads as zeros already)
local function tr_zero(f, offset, length)
  local key = node_key(f.node, 'mem:' .. I(f.pfn))
  local n = math.min(offset + length, redis.call('STRLEN', key)) - offset
  if n > 0 then redis.call('SETRANGE', key, offset, string.rep('\0', n)) end
  TR.zeroed = TR.zeroed + length
end

-- truncate_inode_partial_folio for f and the byte range [lstart, lend] (lend < 0: to EOF); whole pages
-- [start, stop) are inside the range
function TR.partial(xa, ino, mapping, f, lstart, lend, start, stop, min, uniform)
  local size, pos = XA_POW2[f.order] * 4096, f.index * 4096
  local offset = math.max(lstart - pos, 0)
  local length = (lend < 0 or pos + size <= lend) and size - offset or lend + 1 - pos - offset
  tr_zero(f, offset, length)
  if f.order == 0 then return end
  local pieces = TR.split_or_unmap(xa, ino, mapping, f, math.floor(offset / 4096), min, uniform)
  if not pieces then
    if not xa_get_mark(xa, f.slot, 0) then TR.remove(xa, ino, mapping, f) end
    return
  end
  local at2 = f.index + math.floor((offset + length) / 4096)
  for i, pc in ipairs(pieces) do
    if not uniform and offset + length < size and pc.order > min and pc.index <= at2 and at2 < pc.index + XA_POW2[pc.order] then
      local more = TR.split_or_unmap(xa, ino, mapping, pc, at2 - pc.index, min, uniform)
      if more then
        table.remove(pieces, i)
        for j, m in ipairs(more) do table.insert(pieces, i + j - 1, m) end
      end
      break
    end
  end
  -- the new folios wholly inside the range go, and so do those at or past EOF: __folio_split drops every
  -- new folio whose index is >= DIV_ROUND_UP(i_size, PAGE_SIZE) (a folio straddling EOF may be cached; its
  -- pieces past EOF may not)
  local eof = ino.i_size and math.ceil(ino.i_size / 4096)
  for _, pc in ipairs(pieces) do
    if (pc.index >= start and pc.index + XA_POW2[pc.order] <= stop) or (eof and pc.index >= eof) then
      TR.remove(xa, ino, mapping, pc)
    end
  end
end

-- truncate_inode_pages_range(mapping, lstart, lend); lend < 0 = to EOF. `min` is the mapping's minimum
-- folio order, `uniform` the profile's split (split_folio to the minimum order, or folio_split)
function TR.range(xa, ino, mapping, lstart, lend, min, uniform)
  local MAXP = 4503599627370495
  local first, last = math.floor(lstart / 4096), lend < 0 and MAXP or math.floor(lend / 4096)
  local start, stop = math.ceil(lstart / 4096), lend < 0 and MAXP + 1 or math.floor((lend + 1) / 4096)
  for _, f in ipairs(fm_entries(xa, ino, first, last)) do
    local n = XA_POW2[f.order]
    if f.kind == 'hole' then
      local a, b = math.max(f.index, start), math.min(f.index + n, stop) - 1
      if a <= b then fm_punch_hole_entry(xa, ino, f.slot, a, b) end
    elseif f.kind == 'shadow' then   -- truncate_folio_batch_exceptionals: the shadows in the range go too
      fm_store(xa, ino, f.index, f.order, '', 'shadow')
    elseif f.kind == 'folio' then
      if f.index >= start and f.index + n <= stop then TR.remove(xa, ino, mapping, f)
      else TR.partial(xa, ino, mapping, f, lstart, lend, start, stop, min, uniform) end
    end
  end
end
