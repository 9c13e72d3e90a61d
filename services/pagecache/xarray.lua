-- mmsim XArray library: lib/xarray.c kept in Redis hashes.
-- Calling convention and key layout: see the docstring of mmsim/pagecache/xarray.py.
-- Indices never become Lua numbers (doubles): they travel as 16-digit hex strings and are
-- walked as per-level "digits" d[0..L-1] (d[k] = bits k*cs .. k*cs+cs-1 of the index).
-- Nothing is written until xa_commit(xa): a script that errors before it changes nothing.

local XA_ALPHA = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_'
local XA_POW2 = {}
do
  local p = 1
  for i = 0, 64 do XA_POW2[i] = p; p = p * 2 end
end

local function xa_fail(code, msg)
  error('XAERR ' .. code .. ' ' .. msg, 0)
end

local function xa_isvalue(e) return e:byte(1) == 118 end   -- 'v'
local function xa_issib(e) return e:byte(1) == 115 end     -- 's'
local function xa_zero_to_null(e)
  if e == 'z' or e == 'n' then return '' end
  return e
end

local function xa_check_entry(e)
  local t = e:byte(1)
  if e ~= '' and e ~= 'z' and t ~= 112 and not (t == 118 and e:find('^v%d+$')) then
    xa_fail('EINVAL', 'entry must be empty, z, v<decimal> or p<bytes>')
  end
end

local function xa_check_mark(m)
  m = tonumber(m)
  if m ~= 0 and m ~= 1 and m ~= 2 then xa_fail('EINVAL', 'mark must be 0, 1 or 2') end
  return m
end

local function xa_set2hex(xa, set)
  local out = {}
  for i = 0, math.max(1, xa.size / 4) - 1 do
    local v = 0
    for b = 0, 3 do if set[i * 4 + b] then v = v + XA_POW2[b] end end
    out[#out + 1] = string.format('%x', v)
  end
  return table.concat(out)
end

-- models struct xarray: the root hash holds xa_head, the root level, xa_flags (its marks and
-- XA_FLAGS_ALLOC_WRAPPED); flags = xa_init_flags' flags (nil: as stored, else 0): 0, 4
-- (XA_FLAGS_TRACK_FREE = XA_FLAGS_ALLOC: mark 0 is the free mark, set on the empty array) or 12
-- (| XA_FLAGS_ZERO_BUSY = XA_FLAGS_ALLOC1: index 0 busy). xa.marks0 = the xa_flags marks of an
-- empty array (xa_init_flags, and what xa_destroy leaves).
-- xa.fail_after = n (set by the caller, nil = never) makes the (n+1)th node allocation of this
-- script fail with ENOMEM, as a failing kmem_cache_alloc would.
local function xa_open(prefix, cs, flags)
  local rootkey = prefix .. ':r'
  local h = redis.call('HMGET', rootkey, 'cs', 'h', 'r', 'N', 'm0', 'm1', 'm2', 'f', 'w')
  local stored = tonumber(h[1])
  cs = tonumber(cs)
  if stored and cs and stored ~= cs then
    xa_fail('EINVAL', 'array exists with chunk_shift ' .. stored)
  end
  cs = stored or cs or 6
  if cs < 2 or cs > 6 or cs % 1 ~= 0 then xa_fail('EINVAL', 'chunk_shift must be 2..6') end
  local sflags = tonumber(h[8])
  flags = tonumber(flags)
  if stored and flags and (sflags or 0) ~= flags then
    xa_fail('EINVAL', 'array exists with flags ' .. (sflags or 0))
  end
  flags = sflags or flags or 0
  if flags ~= 0 and flags ~= 4 and flags ~= 12 then
    xa_fail('EINVAL', 'flags must be 0, XA_FLAGS_ALLOC or XA_FLAGS_ALLOC1')
  end
  local L = math.floor(63 / cs) + 1
  local xa = {prefix = prefix, rootkey = rootkey, cs = cs, size = XA_POW2[cs], L = L,
              topcap = XA_POW2[64 - (L - 1) * cs], head = h[2] or '', rlevel = tonumber(h[3]),
              nnodes = tonumber(h[4]) or 0, flags = flags, track_free = flags >= 4, zero_busy = flags == 12,
              wrapped = h[9] == '1', marks0 = {[0] = flags == 4, [1] = false, [2] = false},
              cache = {}, rdirty = false}
  xa.xmarks = {[0] = h[5] == '1', [1] = h[6] == '1', [2] = h[7] == '1'}
  if not stored then xa.xmarks[0] = xa.marks0[0] end
  return xa
end

-- models include/linux/xarray.h: xa_marked (is the mark set anywhere in the array)
local function xa_marked(xa, m)
  return xa.xmarks[m] == true
end

local function xa_cap(xa, k)
  if k == xa.L - 1 then return xa.topcap end
  return xa.size
end

local function xa_digits(xa, hex)
  if type(hex) ~= 'string' or #hex ~= 16 or hex:find('[^0-9a-f]') then
    xa_fail('EINVAL', 'index must be 16 lowercase hex digits')
  end
  local bits, d, cs = {}, {}, xa.cs
  for i = 1, 16 do
    local v = tonumber(hex:sub(i, i), 16)
    for b = 0, 3 do bits[(16 - i) * 4 + b] = v % 2; v = (v - v % 2) / 2 end
  end
  for k = 0, xa.L - 1 do
    local v = 0
    for b = math.min(k * cs + cs - 1, 63), k * cs, -1 do v = v * 2 + bits[b] end
    d[k] = v
  end
  return d
end

local function xa_hex(xa, d)
  local bits, out, cs = {}, {}, xa.cs
  for k = 0, xa.L - 1 do
    local v = d[k]
    for b = k * cs, math.min(k * cs + cs - 1, 63) do bits[b] = v % 2; v = (v - v % 2) / 2 end
  end
  for i = 1, 16 do
    local b = (16 - i) * 4
    out[i] = string.format('%x', bits[b] + 2 * bits[b + 1] + 4 * bits[b + 2] + 8 * bits[b + 3])
  end
  return table.concat(out)
end

local function xa_cmp(xa, a, b)
  for k = xa.L - 1, 0, -1 do
    if a[k] ~= b[k] then return a[k] < b[k] and -1 or 1 end
  end
  return 0
end

-- nodes: struct xa_node, one hash per node, key <prefix>:n<level>:<path of slot digits>
local function xa_getnode(xa, level, path)
  local key = xa.prefix .. ':n' .. level .. ':' .. path
  local n = xa.cache[key]
  if not n then
    n = {key = key, level = level, path = path, s = {}, dirty = {}}
    xa.cache[key] = n
  end
  return n
end

local function xa_rootpath(xa, level) return string.rep('0', xa.L - 1 - level) end
local function xa_root(xa) return xa_getnode(xa, xa.rlevel, xa_rootpath(xa, xa.rlevel)) end
local function xa_child(xa, n, off)
  return xa_getnode(xa, n.level - 1, n.path .. XA_ALPHA:sub(off + 1, off + 1))
end
local function xa_parent(xa, n) -- parent node and this node's offset in it (nil at the root)
  if n.level == xa.rlevel then return nil, 0 end
  return xa_getnode(xa, n.level + 1, n.path:sub(1, -2)), XA_ALPHA:find(n.path:sub(-1), 1, true) - 1
end

local function xa_slot(n, off)
  local e = n.s[off]
  if e == nil then
    e = (not n.full) and redis.call('HGET', n.key, off) or false
    n.s[off] = e
  end
  return e or ''
end

local xa_meta
do
  local function xa_hex2set(h)
    local set = {}
    if not h then return set end
    for i = 1, #h do
      local v = tonumber(h:sub(i, i), 16)
      for b = 0, 3 do
        if v % 2 == 1 then set[(i - 1) * 4 + b] = true end
        v = (v - v % 2) / 2
      end
    end
    return set
  end
  function xa_meta(xa, n)
    if n.count then return end
    local r = redis.call('HMGET', n.key, 'c', 'v', 'm0', 'm1', 'm2')
    n.count, n.values = tonumber(r[1]) or 0, tonumber(r[2]) or 0
    n.marks = {[0] = xa_hex2set(r[3]), [1] = xa_hex2set(r[4]), [2] = xa_hex2set(r[5])}
  end
end

local function xa_full(xa, n)
  if n.full then return end
  xa_meta(xa, n)
  local r, f = redis.call('HGETALL', n.key), {}
  for i = 1, #r, 2 do f[r[i]] = r[i + 1] end
  for off = 0, xa.size - 1 do
    if n.s[off] == nil then n.s[off] = f[tostring(off)] or false end
  end
  n.full = true
end

local function xa_setslot(n, off, e)
  n.s[off] = (e ~= '') and e or false
  n.dirty[off] = true
end

local function xa_addcount(xa, n, count, values)
  xa_meta(xa, n)
  n.count, n.values = n.count + count, n.values + values
  n.dirty.c, n.dirty.v = true, true
end

local function xa_node_mark(xa, n, off, m, on) -- returns the previous state of the bit
  xa_meta(xa, n)
  local was = n.marks[m][off] == true
  if was ~= on then
    n.marks[m][off] = on or nil
    n.dirty['m' .. m] = true
  end
  return was
end

-- models xas_alloc / xa_node_free; xa.fail_after counts down the allocations allowed; free: every
-- slot gets the free mark of a free-tracking array (node_mark_all(node, XA_FREE_MARK))
local function xas_alloc(xa, level, path, free)
  if xa.fail_after then
    if xa.fail_after <= 0 then xa_fail('ENOMEM', 'xa_node allocation failed (fail_after)') end
    xa.fail_after = xa.fail_after - 1
  end
  local n = {key = xa.prefix .. ':n' .. level .. ':' .. path, level = level, path = path,
             s = {}, dirty = {}, full = true, fresh = true, count = 0, values = 0,
             marks = {[0] = {}, [1] = {}, [2] = {}}}
  if free and xa.track_free then
    for off = 0, xa.size - 1 do n.marks[0][off] = true end
  end
  xa.cache[n.key] = n
  xa.nnodes, xa.rdirty = xa.nnodes + 1, true
  return n
end

local function xa_free(xa, n)
  n.dead = true
  xa.nnodes, xa.rdirty = xa.nnodes - 1, true
end

local function xa_sethead(xa, e, rlevel)
  xa.head, xa.rlevel, xa.rdirty = e, (e == 'n') and rlevel or nil, true
end

-- struct xa_state: d = index digits, xlev = xa_shift / cs, sibs = xa_sibs
local function xas_new(xa, d, xlev, sibs)
  return {xa = xa, d = d, xlev = xlev or 0, sibs = sibs or 0, off = 0}
end

local function xas_order(xa, hex, order) -- models XA_STATE_ORDER / xas_set_order
  order = tonumber(order)
  if not order or order < 0 or order > 63 or order % 1 ~= 0 then
    xa_fail('EINVAL', 'order must be 0..63')
  end
  local d = xa_digits(xa, hex)
  local xlev = math.floor(order / xa.cs)
  local r = order - xlev * xa.cs
  for k = 0, xlev - 1 do d[k] = 0 end   -- (index >> order) << order
  d[xlev] = d[xlev] - d[xlev] % XA_POW2[r]
  return xas_new(xa, d, xlev, XA_POW2[r] - 1)
end

local function xas_here(s) -- the node an 'n' entry at the current position refers to
  if s.node then return xa_child(s.xa, s.node, s.off) end
  return xa_root(s.xa)
end

-- models xas_start
local function xas_start(s)
  local xa = s.xa
  s.node, s.bounds = nil, false
  local from = (xa.head == 'n') and xa.rlevel + 1 or 0
  for k = from, xa.L - 1 do
    if s.d[k] ~= 0 then s.bounds = true; return '' end
  end
  return xa.head
end

-- models xas_descend
local function xas_descend(s, n)
  local off = s.d[n.level]
  local e = xa_slot(n, off)
  s.node = n
  while xa_issib(e) do   -- a sibling may name a slot that is itself a sibling (after a range store)
    off = tonumber(e:sub(2))
    e = xa_slot(n, off)
  end
  s.off = off
  return e
end

-- models xas_load
local function xas_load(s)
  local e = xas_start(s)
  while e == 'n' do
    local n = xas_here(s)
    if s.xlev > n.level then break end
    e = xas_descend(s, n)
  end
  return e
end

-- models xas_max: level of the top non-zero digit of the highest index to create (-1 for 0)
local xas_maxlevel
do
  local function xa_bor(a, b) -- bitwise or of two small non-negative integers
    local r, bit = 0, 1
    while a > 0 or b > 0 do
      if a % 2 == 1 or b % 2 == 1 then r = r + bit end
      a = (a - a % 2) / 2; b = (b - b % 2) / 2; bit = bit * 2
    end
    return r
  end
  function xas_maxlevel(s)
    local xa, d = s.xa, s.d
    if s.xlev == 0 and s.sibs == 0 then
      for k = xa.L - 1, 0, -1 do if d[k] ~= 0 then return k end end
      return -1
    end
    local covered, top = true, -1
    for k = xa.L - 1, 0, -1 do
      local mk = 0
      if k < s.xlev then mk = xa.size - 1 elseif k == s.xlev then mk = s.sibs end
      local v = xa_bor(d[k], mk)
      if v ~= mk then covered = false end
      if v ~= 0 and top < 0 then top = k end
    end
    if not covered then return top end
    if s.sibs + 1 < xa_cap(xa, s.xlev) then return s.xlev end
    if s.xlev + 1 < xa.L then return s.xlev + 1 end
    return -1
  end
end

-- models xas_expand; returns (root level + 1), 0 when the head can hold the entry. head is the
-- head as xas_create sees it: XA_ZERO_ENTRY for an empty XA_FLAGS_ZERO_BUSY array (index 0 busy).
local function xas_expand(s, head)
  local xa = s.xa
  local maxd = xas_maxlevel(s)
  if head == '' then
    if maxd < 0 then return 0 end
    return maxd + 1
  end
  local lv = (head == 'n') and xa.rlevel + 1 or 0
  while maxd > ((head == 'n') and xa.rlevel or -1) do
    local n = xas_alloc(xa, lv, xa_rootpath(xa, lv), true)
    n.count, n.values = 1, xa_isvalue(head) and 1 or 0
    xa_setslot(n, 0, head)
    for m = 0, 2 do n.marks[m][0] = xa.xmarks[m] or n.marks[m][0] end
    if xa.track_free then   -- the new root's other slots are free
      if not xa.xmarks[0] then n.marks[0][0] = nil end
      xa.xmarks[0] = true
    end
    xa_sethead(xa, 'n', lv)
    head, lv = 'n', lv + 1
  end
  return lv
end

-- models xas_create
local function xas_create(s, allow_root)
  local xa = s.xa
  local lv = xas_expand(s, (xa.head == '' and xa.zero_busy) and 'z' or xa.head)
  if lv == 0 and not allow_root then lv = 1 end
  local e = xa.head
  s.node, s.off = nil, 0
  while lv > s.xlev do
    lv = lv - 1
    local n
    if e == '' then
      if s.node then
        n = xas_alloc(xa, lv, s.node.path .. XA_ALPHA:sub(s.off + 1, s.off + 1), true)
        xa_setslot(s.node, s.off, 'n')
        xa_addcount(xa, s.node, 1, 0)
      else
        n = xas_alloc(xa, lv, xa_rootpath(xa, lv), true)
        xa_sethead(xa, 'n', lv)
      end
    elseif e == 'n' then
      n = xas_here(s)
    else
      break
    end
    e = xas_descend(s, n)
  end
  return e
end

-- models xas_set_mark / xas_clear_mark / xas_get_mark
local function xas_set_mark(s, m)
  local xa, n, off = s.xa, s.node, s.off
  while n do
    if xa_node_mark(xa, n, off, m, true) then return end
    n, off = xa_parent(xa, n)
  end
  if not xa.xmarks[m] then xa.xmarks[m], xa.rdirty = true, true end
end

local function xas_clear_mark(s, m)
  local xa, n, off = s.xa, s.node, s.off
  while n do
    if not xa_node_mark(xa, n, off, m, false) then return end
    if next(n.marks[m]) then return end
    n, off = xa_parent(xa, n)
  end
  if xa.xmarks[m] then xa.xmarks[m], xa.rdirty = false, true end
end

local function xas_get_mark(s, m)
  if s.bounds then return false end
  if not s.node then return s.xa.xmarks[m] end
  xa_meta(s.xa, s.node)
  return s.node.marks[m][s.off] == true
end

-- models xas_squash_marks
local function xas_squash_marks(s)
  local n = s.node
  xa_meta(s.xa, n)
  for m = 0, 2 do
    local any = false
    for o = s.off + 1, s.off + s.sibs do
      if n.marks[m][o] then any = true; n.marks[m][o] = nil end
    end
    if any then n.marks[m][s.off] = true; n.dirty['m' .. m] = true end
  end
end

-- models xas_free_nodes
local function xa_free_nodes(xa, n)
  xa_full(xa, n)
  if n.level > 0 then
    for off = 0, xa.size - 1 do
      if n.s[off] == 'n' then xa_free_nodes(xa, xa_child(xa, n, off)) end
    end
  end
  xa_free(xa, n)
end

-- models xas_shrink
local function xas_shrink(xa, n)
  while true do
    xa_meta(xa, n)
    if n.count ~= 1 then return end
    local e = xa_slot(n, 0)
    if e == '' or (e ~= 'n' and n.level > 0) then return end
    if e == 'z' and xa.zero_busy then e = '' end
    local child = (e == 'n') and xa_child(xa, n, 0) or nil
    xa_sethead(xa, e, n.level - 1)
    if xa.track_free and not n.marks[0][0] then xa.xmarks[0] = false end
    xa_free(xa, n)
    if not child then return end
    n = child
  end
end

-- models xas_delete_node
local function xas_delete_node(xa, n)
  while true do
    xa_meta(xa, n)
    if n.count > 0 then break end
    local parent, off = xa_parent(xa, n)
    xa_free(xa, n)
    if not parent then xa_sethead(xa, ''); return end
    xa_setslot(parent, off, '')
    xa_addcount(xa, parent, -1, 0)
    n = parent
  end
  if n.level == xa.rlevel then xas_shrink(xa, n) end
end

-- models update_node
local function xa_update_node(xa, n, count, values)
  if not n or (count == 0 and values == 0) then return end
  xa_addcount(xa, n, count, values)
  if count < 0 then xas_delete_node(xa, n) end
end

-- models xas_store; entry '' stores NULL. Returns the old entry (internal entries included).
local function xas_store(s, entry)
  local xa = s.xa
  local first
  if entry ~= '' then
    first = xas_create(s, entry ~= 'z')
  else
    first = xas_load(s)
    if s.bounds then return first end
  end
  local node = s.node
  if node and s.xlev < node.level then s.sibs = 0 end
  if first == entry and s.sibs == 0 then return first end
  local nxt, off, max = first, s.off, s.off + s.sibs
  local count, values, value = 0, 0, xa_isvalue(entry)
  if node and s.sibs > 0 then xas_squash_marks(s) end
  if entry == '' then   -- xas_init_marks: a NULL slot is free in a free-tracking array, other marks clear
    for m = 0, 2 do
      if m == 0 and xa.track_free then xas_set_mark(s, m) else xas_clear_mark(s, m) end
    end
  end
  while true do
    local victim = (nxt == 'n') and (node and xa_child(xa, node, off) or xa_root(xa)) or nil
    if node then xa_setslot(node, off, entry) else xa_sethead(xa, entry, xa.rlevel) end
    if victim then xa_free_nodes(xa, victim) end
    if not node then break end
    count = count + ((nxt == '') and 1 or 0) - ((entry == '') and 1 or 0)
    values = values + (xa_isvalue(first) and 0 or 1) - (value and 0 or 1)
    if entry ~= '' then
      if off == max then break end
      if not xa_issib(entry) then entry = 's' .. s.off end
    elseif off == xa.size - 1 then
      break
    end
    off = off + 1
    nxt = xa_slot(node, off)
    if not xa_issib(nxt) then
      if entry == '' and off > max then break end
      first = nxt
    end
  end
  xa_update_node(xa, node, count, values)
  return first
end

-- models xas_get_order
local function xas_get_order(s)
  if not s.node then return 0 end
  local order = 0
  while true do
    local slot = s.off + XA_POW2[order]
    if slot >= s.xa.size or not xa_issib(xa_slot(s.node, slot)) then break end
    order = order + 1
  end
  return order + s.node.level * s.xa.cs
end

------------------------------------------------------------------------------------------
-- Public library: the xa_* API (lib/xarray.c names). hex = 16-digit index, entries encoded
-- as '' (NULL), 'z' (XA_ZERO_ENTRY), 'v<decimal>' (value), 'p<bytes>' (object).
------------------------------------------------------------------------------------------

-- models xa_load
local function xa_load(xa, hex)
  return xa_zero_to_null(xas_load(xas_new(xa, xa_digits(xa, hex))))
end

-- xas_store, then (free-tracking array, non-NULL entry) xas_clear_mark(XA_FREE_MARK): in use
local function xas_store_used(s, entry)
  local old = xas_store(s, entry)
  if s.xa.track_free and entry ~= '' then xas_clear_mark(s, 0) end
  return old
end

-- models xa_store (order 0) and the test suite's xa_store_order (XA_STATE_ORDER + xas_store; the
-- index is rounded down to the order). In a free-tracking array NULL is stored as XA_ZERO_ENTRY:
-- the index stays allocated until xa_erase.
local function xa_store(xa, hex, order, entry)
  xa_check_entry(entry)
  if entry == '' and xa.track_free then entry = 'z' end
  return xa_zero_to_null(xas_store_used(xas_order(xa, hex, order), entry))
end

-- models xa_erase
local function xa_erase(xa, hex)
  return xa_zero_to_null(xas_store(xas_new(xa, xa_digits(xa, hex)), ''))
end

-- models __xa_cmpxchg (old compared raw, so 'z' matches a reserved slot)
local function xa_cmpxchg(xa, hex, old, entry)
  xa_check_entry(old)
  xa_check_entry(entry)
  local s = xas_new(xa, xa_digits(xa, hex))
  local curr = xas_load(s)
  if curr == old then xas_store_used(xas_new(xa, s.d), entry) end
  return xa_zero_to_null(curr)
end

-- models __xa_insert: fails with EBUSY when the slot holds anything, a reserved entry included
local function xa_insert(xa, hex, entry)
  xa_check_entry(entry)
  if entry == '' then entry = 'z' end
  local s = xas_new(xa, xa_digits(xa, hex))
  if xas_load(s) ~= '' then xa_fail('EBUSY', 'index is occupied') end
  xas_store_used(xas_new(xa, s.d), entry)
end

-- models xa_reserve / xa_release
local function xa_reserve(xa, hex) xa_cmpxchg(xa, hex, '', 'z') end
local function xa_release(xa, hex) xa_cmpxchg(xa, hex, 'z', '') end

-- models xa_set_mark / xa_clear_mark (no effect on a NULL entry)
local function xa_set_mark(xa, hex, m)
  m = xa_check_mark(m)
  local s = xas_new(xa, xa_digits(xa, hex))
  if xas_load(s) ~= '' then xas_set_mark(s, m) end
end

local function xa_clear_mark(xa, hex, m)
  m = xa_check_mark(m)
  local s = xas_new(xa, xa_digits(xa, hex))
  if xas_load(s) ~= '' then xas_clear_mark(s, m) end
end

-- models xa_get_mark
local function xa_get_mark(xa, hex, m)
  m = xa_check_mark(m)
  local s = xas_new(xa, xa_digits(xa, hex))
  local e = xas_start(s)
  while xas_get_mark(s, m) do
    if e ~= 'n' then return true end
    e = xas_descend(s, xas_here(s))
  end
  return false
end

-- models xa_get_order
local function xa_get_order(xa, hex)
  local s = xas_new(xa, xa_digits(xa, hex))
  if xas_load(s) == '' then return 0 end
  return xas_get_order(s)
end

-- the iterators (xas_find, xas_find_marked) and their users: xa_find, xa_find_after, xa_alloc,
-- xa_alloc_cyclic (a do-block keeps the helpers out of the script's 200 locals)
local xa_find, xa_find_after, xa_alloc, xa_alloc_cyclic
do
  -- index arithmetic for the iterators: models xas_move_index (with the carry of an offset
  -- equal to XA_CHUNK_SIZE); s.wrapped is set when the index passes ULONG_MAX
  local function xas_move_index(s, k, off)
    local xa, d = s.xa, s.d
    for j = 0, k - 1 do d[j] = 0 end
    d[k] = off
    while d[k] >= xa_cap(xa, k) do
      if k == xa.L - 1 then s.wrapped = true; return end
      d[k] = d[k] - xa.size
      k = k + 1
      d[k] = d[k] + 1
    end
  end

  -- models xas_find (first call: XAS_RESTART; later calls continue after the current entry)
  local function xas_find(s, maxd)
    local xa = s.xa
    if not s.pos then
      s.pos = true
      if xa_cmp(xa, s.d, maxd) > 0 then s.done = true; return '' end
      local e = xas_load(s)
      if e ~= '' or s.bounds or not s.node then
        s.done = s.bounds or not s.node
        return e
      end
    elseif s.done then
      return ''
    end
    if s.node.level == 0 then s.off = s.d[0] end
    s.off = s.off + 1
    xas_move_index(s, s.node.level, s.off)
    while s.node and not s.wrapped and xa_cmp(xa, s.d, maxd) <= 0 do
      if s.off >= xa.size then
        local p, poff = xa_parent(xa, s.node)
        s.node, s.off = p, poff + 1
      else
        xa_full(xa, s.node)
        local e = xa_slot(s.node, s.off)
        if e == 'n' then
          s.node, s.off = xa_child(xa, s.node, s.off), 0
        elseif e ~= '' and not xa_issib(e) then
          return e
        else
          s.off = s.off + 1
          xas_move_index(s, s.node.level, s.off)
        end
      end
    end
    s.done = true
    return ''
  end

  -- models xas_find_marked. On return s.hit tells a found entry from none (in a free-tracking array
  -- a slot with the free mark is found although it holds NULL); with none, s.restart is set when the
  -- search passed max (XAS_RESTART), else s.d is the first index beyond the tree (XAS_BOUNDS).
  local function xas_find_marked(s, maxd, m)
    local xa = s.xa
    local advance = true
    s.hit = false
    local function out()
      s.done = true
      s.restart = s.wrapped or xa_cmp(xa, s.d, maxd) > 0
      return ''
    end
    if not s.pos then
      s.pos, advance = true, false
      if xa_cmp(xa, s.d, maxd) > 0 then return out() end
      if xa.head ~= 'n' then
        s.node = nil
        for k = 0, xa.L - 1 do if s.d[k] ~= 0 then return out() end end
        if xa.xmarks[m] then s.hit, s.done = true, true; return xa.head end
        s.d[0] = 1
        return out()
      end
      for k = xa.rlevel + 1, xa.L - 1 do
        if s.d[k] ~= 0 then return out() end
      end
      s.node, s.off = xa_root(xa), s.d[xa.rlevel]
    elseif s.done then
      return ''
    end
    while not s.wrapped and xa_cmp(xa, s.d, maxd) <= 0 do
      local n = s.node
      if s.off >= xa.size then
        local p, poff = xa_parent(xa, n)
        if not p then break end
        s.node, s.off, advance = p, poff + 1, false
      else
        xa_meta(xa, n)
        if not advance then
          local e = xa_slot(n, s.off)
          if xa_issib(e) then
            while xa_issib(e) do s.off = tonumber(e:sub(2)); e = xa_slot(n, s.off) end
            xas_move_index(s, n.level, s.off)
          end
        end
        local o = s.off + (advance and 1 or 0)
        while o < xa.size and not n.marks[m][o] do o = o + 1 end
        local moved_out = false
        if o > s.off then
          advance = false
          xas_move_index(s, n.level, o)
          if s.wrapped or xa_cmp(xa, s.d, maxd) > 0 then break end
          s.off = o
          moved_out = (o == xa.size)
        end
        if not moved_out then
          local e = xa_slot(n, s.off)
          if e ~= 'n' then s.hit = true; return e end
          s.node = xa_child(xa, n, s.off)
          s.off = s.d[s.node.level]
        end
      end
    end
    return out()
  end

  local function xas_find_any(s, maxd, m)
    if m then return xas_find_marked(s, maxd, m) end
    return xas_find(s, maxd)
  end

  -- models xas_sibling (used by xa_find_after)
  local function xas_sibling(s)
    local n = s.node
    if not n then return false end
    local k = n.level
    if s.d[k] ~= s.off then return s.d[k] > s.off end
    for j = 0, k - 1 do
      if s.d[j] ~= 0 then return true end
    end
    return false
  end

  -- models xa_find: returns index hex and entry, or nil
  function xa_find(xa, hex, maxhex, mark)
    local m = mark and xa_check_mark(mark)
    local s, maxd = xas_new(xa, xa_digits(xa, hex)), xa_digits(xa, maxhex)
    local e
    repeat e = xas_find_any(s, maxd, m) until e ~= 'z'
    if e == '' then return nil end
    return xa_hex(xa, s.d), e
  end

  -- models xa_find_after; an entry found at or below hex (xas_find_marked moves back to the
  -- canonical slot of a multi-index entry) is skipped like a sibling, so iteration terminates
  function xa_find_after(xa, hex, maxhex, mark)
    local m = mark and xa_check_mark(mark)
    local d, maxd = xa_digits(xa, hex), xa_digits(xa, maxhex)
    local s = xas_new(xa, d)
    xas_move_index(s, 0, d[0] + 1)
    if s.wrapped then return nil end
    while true do
      local e = xas_find_any(s, maxd, m)
      if e == '' then return nil end
      local idx = xa_hex(xa, s.d)
      if e ~= 'z' and not xas_sibling(s) and idx > hex then return idx, e end
    end
  end

  -- models __xa_alloc's search: the lowest index in [minhex, maxhex] with the free mark (or beyond
  -- the tree), or nil when every index there is in use (-EBUSY); stores entry there
  local function xa_alloc_in(xa, entry, minhex, maxhex)
    local s = xas_new(xa, xa_digits(xa, minhex))
    xas_find_marked(s, xa_digits(xa, maxhex), 0)
    if not s.hit and s.restart then return nil end
    xas_store_used(xas_new(xa, s.d), entry)
    return xa_hex(xa, s.d)
  end

  local function xa_check_alloc(xa, entry, minhex, maxhex)
    xa_check_entry(entry)
    if not xa.track_free then xa_fail('EINVAL', 'xa_alloc needs an array made with XA_FLAGS_ALLOC or XA_FLAGS_ALLOC1') end
    if minhex:sub(1, 8) ~= '00000000' or maxhex:sub(1, 8) ~= '00000000' then
      xa_fail('EINVAL', 'the limit of an allocated ID is a u32 (0..4294967295)')
    end
    if entry == '' then return 'z' end
    return entry
  end

  -- models xa_alloc / __xa_alloc: ID = lowest free index in limit [minhex, maxhex] (u32), EBUSY if none
  function xa_alloc(xa, entry, minhex, maxhex)
    entry = xa_check_alloc(xa, entry, minhex, maxhex)
    local id = xa_alloc_in(xa, entry, minhex, maxhex)
    if not id then xa_fail('EBUSY', 'no free index in ' .. minhex .. '..' .. maxhex) end
    return id
  end

  -- models xa_alloc_cyclic / __xa_alloc_cyclic: search from next (wrapping to minhex once); returns
  -- the ID, 1 if the search wrapped (or next wrapped past UINT_MAX since the last call: the
  -- XA_FLAGS_ALLOC_WRAPPED flag), else 0, and the new next
  function xa_alloc_cyclic(xa, entry, minhex, maxhex, nexthex)
    entry = xa_check_alloc(xa, entry, minhex, maxhex)
    if nexthex:sub(1, 8) ~= '00000000' then xa_fail('EINVAL', 'next is a u32 (0..4294967295)') end
    local from = (nexthex > minhex) and nexthex or minhex
    local id, ret = xa_alloc_in(xa, entry, from, maxhex), 0
    if id and xa.wrapped then xa.wrapped, xa.rdirty, ret = false, true, 1 end
    if not id and from > minhex then
      id, ret = xa_alloc_in(xa, entry, minhex, maxhex), 1
    end
    if not id then xa_fail('EBUSY', 'no free index in ' .. minhex .. '..' .. maxhex) end
    local nxt = (tonumber(id, 16) + 1) % XA_POW2[32]
    if nxt == 0 then xa.wrapped, xa.rdirty = true, true end
    return id, ret, string.format('%016x', nxt)
  end
end

-- models xa_store_range once the caller has planned it (see range_plan in xarray.py):
-- create = {hex, xlev, sibs} or nil (the xas_create of the last index), chunks = list of
-- {hex, xlev, sibs} as produced by xas_set_range
local function xa_store_range(xa, entry, create, chunks)
  xa_check_entry(entry)
  if entry == 'z' then xa_fail('EINVAL', 'cannot store an internal entry over a range') end
  if entry ~= '' and create then
    xas_create(xas_new(xa, xa_digits(xa, create[1]), create[2], create[3]), true)
  end
  for _, c in ipairs(chunks) do
    xas_store(xas_new(xa, xa_digits(xa, c[1]), c[2], c[3]), entry)
  end
end

local xa_split, xa_try_split
do
  -- the multi-index entry a split of hex into entries of new_order acts on: the xa_state (xa_shift,
  -- xa_sibs of new_order, walked to the entry), the entry, its order; EINVAL when there is none
  local function xas_split_start(xa, hex, new_order, entry)
    local s = xas_order(xa, hex, new_order)   -- XA_STATE_ORDER(xas, xa, index, new_order)
    new_order = tonumber(new_order)
    local curr = xas_load(s)
    if curr == '' or curr == 'n' or not s.node then xa_fail('EINVAL', 'no multi-index entry here') end
    local order = xas_get_order(s)
    if new_order >= order then xa_fail('EINVAL', 'new_order must be below the entry order') end
    -- an entry xa_store_range made of a run of slots that is not 2**k aligned ones cannot be split
    -- (the kernel's xas_split would write outside the run)
    local k = order - s.node.level * xa.cs
    local aligned = k < xa.cs and s.off % XA_POW2[k] == 0
    for o = s.off + 1, aligned and s.off + XA_POW2[k] - 1 or 0 do
      aligned = aligned and xa_issib(xa_slot(s.node, o))
    end
    if not aligned then xa_fail('EINVAL', 'the entry is not an aligned run of 2**k slots (a range store made it)') end
    if entry == nil then entry = curr end
    xa_check_entry(entry)
    if entry == '' then xa_fail('EINVAL', 'a split stores an entry, not NULL') end
    return s, curr, order, entry
  end

  -- models xas_split (and the nodes xas_split_alloc prepared): the entry of `order` at the xa_state
  -- becomes entries of the state's order holding `entry`, each with the old entry's marks
  local function xas_split(s, curr, order, entry)
    local xa, n, nl, nsibs = s.xa, s.node, s.xlev, s.sibs
    xa_meta(xa, n)
    local marks, values = {}, 0
    for m = 0, 2 do marks[m] = n.marks[m][s.off] end
    local offset = s.off + XA_POW2[order % xa.cs] - 1
    while true do
      if nl < n.level then
        local child = xas_alloc(xa, n.level - 1, n.path .. XA_ALPHA:sub(offset + 1, offset + 1))
        local sib
        for i = 0, xa.size - 1 do
          if i % (nsibs + 1) == 0 then child.s[i], sib = entry, 's' .. i else child.s[i] = sib end
        end
        child.count, child.values = xa.size, xa_isvalue(entry) and xa.size or 0
        for m = 0, 2 do
          if marks[m] then
            xa_node_mark(xa, n, offset, m, true)
            for i = 0, xa.size - 1, nsibs + 1 do child.marks[m][i] = true end
          end
        end
        xa_setslot(n, offset, 'n')
        if xa_isvalue(curr) then values = values - 1 end
      else
        local canon = offset - nsibs
        for m = 0, 2 do
          if marks[m] then xa_node_mark(xa, n, canon, m, true) end
        end
        xa_setslot(n, canon, entry)
        for o = canon + 1, offset do xa_setslot(n, o, 's' .. canon) end
        values = values + ((xa_isvalue(entry) and 1 or 0) - (xa_isvalue(curr) and 1 or 0)) * (nsibs + 1)
        offset = canon
      end
      if offset <= s.off then break end
      offset = offset - 1
    end
    xa_addcount(xa, n, 0, values)
  end

  -- models xas_split_alloc + xas_split: the entry at hex split into entries of new_order holding
  -- entry (nil: the old entry). xas_split_alloc allocates one level of nodes at most: a split to
  -- more than one level below the entry fails with ENOMEM.
  function xa_split(xa, hex, new_order, entry)
    local s, curr, order
    s, curr, order, entry = xas_split_start(xa, hex, new_order, entry)
    if order >= s.xlev * xa.cs + 2 * xa.cs then
      xa_fail('ENOMEM', 'xas_split_alloc splits one level at most (order ' .. order .. ' to ' .. new_order .. ')')
    end
    xas_split(s, curr, order, entry)
  end

  -- models xas_try_split (the non-uniform split of mm/huge_memory.c: __split_unmapped_folio): like
  -- xa_split, but a split that needs a new node only from an entry of exactly one slot to the level
  -- below (else EINVAL), and that one node may fail to allocate (ENOMEM: see xa.fail_after)
  function xa_try_split(xa, hex, new_order, entry)
    local s, curr, order
    s, curr, order, entry = xas_split_start(xa, hex, new_order, entry)
    if s.xlev < s.node.level and order ~= (s.xlev + 1) * xa.cs then
      xa_fail('EINVAL', 'xas_try_split needs order ' .. ((s.xlev + 1) * xa.cs) .. ' to split below its node, not ' .. order)
    end
    xas_split(s, curr, order, entry)
  end
end

-- calls fn(node) for every node, parents first
local function xa_walk(xa, fn)
  if xa.head ~= 'n' then return end
  local function rec(n)
    xa_full(xa, n)
    fn(n)
    if n.level > 0 then
      for off = 0, xa.size - 1 do
        if n.s[off] == 'n' then rec(xa_child(xa, n, off)) end
      end
    end
  end
  rec(xa_root(xa))
end

-- models xa_destroy (the marks back to those of an empty array: xas_init_marks, ZERO_BUSY)
local function xa_destroy(xa)
  if xa.head == 'n' then xa_free_nodes(xa, xa_root(xa)) end
  xa_sethead(xa, '')
  xa.xmarks, xa.wrapped = {[0] = xa.marks0[0], [1] = false, [2] = false}, false
end

-- writes every change of this script's xa_* calls to Redis
local function xa_commit(xa)
  for key, n in pairs(xa.cache) do
    if n.dead then
      redis.call('DEL', key)
    elseif n.fresh then
      local args = {'c', n.count, 'v', n.values}
      for off = 0, xa.size - 1 do
        if n.s[off] then args[#args + 1] = off; args[#args + 1] = n.s[off] end
      end
      for m = 0, 2 do
        if next(n.marks[m]) then args[#args + 1] = 'm' .. m; args[#args + 1] = xa_set2hex(xa, n.marks[m]) end
      end
      redis.call('DEL', key)
      redis.call('HSET', key, unpack(args))
    elseif next(n.dirty) then
      local set, del = {}, {}
      for f in pairs(n.dirty) do
        local v
        if f == 'c' then v = n.count
        elseif f == 'v' then v = n.values
        elseif type(f) == 'string' then
          local mk = n.marks[tonumber(f:sub(2))]
          v = next(mk) and xa_set2hex(xa, mk) or false
        else v = n.s[f] end
        if v then set[#set + 1] = f; set[#set + 1] = v else del[#del + 1] = f end
      end
      if #set > 0 then redis.call('HSET', n.key, unpack(set)) end
      if #del > 0 then redis.call('HDEL', n.key, unpack(del)) end
    end
  end
  xa.cache = {}
  if xa.rdirty then
    redis.call('DEL', xa.rootkey)
    local keep = xa.head ~= '' or xa.wrapped
    for m = 0, 2 do keep = keep or (xa.xmarks[m] ~= xa.marks0[m]) end
    if keep then   -- an empty array keeps its root only for flags that differ from a new array's
      local args = {'cs', xa.cs, 'h', xa.head, 'N', xa.nnodes}
      if xa.head == 'n' then args[#args + 1] = 'r'; args[#args + 1] = xa.rlevel end
      for m = 0, 2 do
        if xa.xmarks[m] then args[#args + 1] = 'm' .. m; args[#args + 1] = '1' end
      end
      if xa.flags ~= 0 then args[#args + 1] = 'f'; args[#args + 1] = xa.flags end
      if xa.wrapped then args[#args + 1] = 'w'; args[#args + 1] = '1' end
      redis.call('HSET', xa.rootkey, unpack(args))
    end
    xa.rdirty = false
  end
end
