-- The entry that maps virtual page vpn in the process whose keys K names: its PTE (K.pte, field vpn) or else the
-- PMD over it (K.pmd, field vpn >> 9: a file THP do_set_pmd mapped). Returns the entry string (nil: none), the
-- hash and field it lives in, and the page's pfn (a PMD names its folio's head).
local function pte_or_pmd(K, vpn)
  local key, field = K.pte, string.format('%d', vpn)
  local s = redis.call('HGET', key, field)
  if not s then
    key, field = K.pmd, string.format('%d', math.floor(vpn / 512))
    s = redis.call('HGET', key, field)
  end
  local pfn, head = string.match(s or '', '^(%d+):(%d+):')
  if s and key == K.pmd then pfn = tonumber(head) + vpn % 512 end
  return s, key, field, tonumber(pfn)
end
