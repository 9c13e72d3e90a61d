-- get_user_pages(FOLL_GET) `count` times on the page a PTE (or a PMD) maps: each reference is try_get_page (v5.1,
-- "mm: prevent get_user_pages() from overflowing page refcount"), which refuses instead of letting a
-- user-controlled _refcount wrap; the references are kept per process and dropped at exit.
vm_spans(ARG.spans)
local st = redis.call('HMGET', KEY.mm, 'state', 'killed_reason')
if not st[1] then return {'nopid'} end
if st[1] ~= 'running' then return {'killed', st[2] or ''} end
local s = redis.call('HGET', KEY.pte, ARG.vpn)
local pmd = not s and RM.pmd_get(string.match(KEY.mm, '{mm:(%d+)}'), math.floor(tonumber(ARG.vpn) / 512))
if not s and not pmd then return {'nopte'} end
local p = pte_decode(s or pmd)
if pmd then p.pfn = p.head + tonumber(ARG.vpn) % 512 end   -- follow_huge_pmd: the page inside the PMD's folio
if has(p.bits, PTE_ZERO) then return {'zero'} end
vm_node(p.node)
local rc = page_get_field(p.head, 'refcount')
local want = tonumber(ARG.count)
local got = (rc > 0 and rc < INT_MAX) and math.min(want, INT_MAX - rc) or 0
if got > 0 then
  page_set_field(p.head, 'refcount', rc + got)
  redis.call('HINCRBY', KEY.pins, I(p.node) .. ':' .. I(p.head) .. ':' .. I(p.order), got)
  redis.call('HINCRBY', KEY.mm, 'pins', got)
end
if want > got then rm_stat(p.node, 'mmsim_gup_refused', want - got) end
return {'ok', I(got), I(want - got), I(rc + got), I(p.pfn)}
