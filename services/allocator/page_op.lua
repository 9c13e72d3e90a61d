-- one struct page reference operation (include/linux/page_ref.h, mm.h): page_ref_add, try_get_page,
-- _mapcount add, page_ref_freeze
-- KEYS[1] prefix; ARGV: node_start node_end op pfn arg
vm_init(KEYS[1], ARGV[1], ARGV[2])
local op, pfn, arg = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if op == 'ref_add' then return page_ref_add(pfn, arg)
elseif op == 'try_get' then return page_try_get(pfn)
elseif op == 'mapcount_add' then return page_mapcount_add(pfn, arg)
elseif op == 'ref_freeze' then return page_ref_freeze(pfn, arg)
end
mm_fail('InvalidArgument', 'unknown page op ' .. op)
