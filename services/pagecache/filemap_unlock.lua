-- filemap_invalidate_unlock_shared in the insert's own step (AddFolio's unlock): the fence is the caller's
-- lock (KEY.fence, ARG.fence); its release and the waiters woken are appended to the reply
local function fm_unlocked(out, unlock)
  if unlock == '1' then
    local r = lk_release(KEY.fence, KEY.fence .. ':wake', string.sub(ARG.fence, 1, 1), string.sub(ARG.fence, 3))
    out[#out + 1] = r[1]; out[#out + 1] = r[2]
  end
  return out
end
