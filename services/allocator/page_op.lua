-- one struct page reference operation (include/linux/page_ref.h, mm.h): page_ref_add, try_get_page,
-- _mapcount add, page_ref_freeze. KEY and ARG: mmsim.allocator.allocator.PAGE_OP. Reply: {'ok', the result}
vm_init(KEY.node, ARG.node_start, ARG.node_end)
local op, pfn, arg = ARG.op, tonumber(ARG.pfn), tonumber(ARG.arg)
if op == 'ref_add' then return {'ok', page_ref_add(pfn, arg)}
elseif op == 'try_get' then return {'ok', page_try_get(pfn)}
elseif op == 'mapcount_add' then return {'ok', page_mapcount_add(pfn, arg)}
elseif op == 'ref_freeze' then return {'ok', page_ref_freeze(pfn, arg)}
end
mm_fail('InvalidArgument', 'unknown page op ' .. op)
