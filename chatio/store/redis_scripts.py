"""The Lua scripts of ``RedisHistoryStore``; key layout in its module doc.

Every script runs atomically on the Redis server, so the checks of an edit,
delete or reaction and its writes cannot interleave with another node's.
Keys a script builds itself (idempotency records) carry the room's hash tag
like the declared ones, so they live in the same Redis Cluster slot.

The scripts that append and read also read, or create, the room's epoch in
the same step, so no ``seq`` is ever paired with another history's epoch.
"""

# Helpers. ``entry`` reads one log entry: the log hash, else the stream
# that nodes before the log hash kept entries in.
HELPERS = """
local function utf8len(s)
  local _, n = string.gsub(s, '[^\\128-\\191]', '')
  return n
end
local function sent_key(prefix, user, client_id)
  return prefix .. utf8len(user) .. ':' .. user .. ':' .. client_id
end
local function entry(log, stream, seq)
  local body = redis.call('HGET', log, seq)
  if body then return body end
  local found = redis.call('XRANGE', stream, seq .. '-0', seq .. '-0')[1]
  if found then return found[2][2] end
  return false
end
-- The room's epoch. The epoch and the seq counter are created together:
-- without the counter the history starts (over), so it gets a new epoch
-- (``fresh``); a counter without an epoch is a history kept by nodes from
-- before epochs, which carries on under a new one.
local function room_epoch(seq_key, epoch_key, fresh)
  local epoch = redis.call('GET', epoch_key)
  if redis.call('EXISTS', seq_key) == 0 then
    redis.call('SET', seq_key, 0)
    epoch = false
  end
  if not epoch then
    epoch = fresh
    redis.call('SET', epoch_key, epoch)
  end
  return epoch
end
local function live_message(log, stream, seq_key, seq, retention)
  local last = tonumber(redis.call('GET', seq_key) or '0')
  if seq > last or seq <= last - retention then return false end
  local body = entry(log, stream, seq)
  if not body then return false end
  local message = cjson.decode(body)
  if message.kind or message.deleted then return false end
  return message
end
"""

# KEYS: seq, log, stream, reactions, edits, epoch[, sent]
# ARGV: entry JSON without seq, epoch and its opening brace, retention,
#       idempotency window ms, mode ('message' | 'edit' | 'delete'),
#       target seq, user id, by backend ('1' | '0'), edited text, ts,
#       idempotency key prefix, a fresh epoch
# Returns {0, entry JSON}, {1, earlier entry JSON, epoch or false} for a
# duplicate, {-1} when the target is no live message, {-2} when it is
# someone else's.
WRITE_SCRIPT = HELPERS + """
local seq_key, log, stream, reactions, edits, epoch_key, sent =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
if sent then
  local seen = redis.call('GET', sent)
  if seen then return {1, seen, redis.call('GET', epoch_key)} end
end
local retention, mode = tonumber(ARGV[2]), ARGV[4]
local target, message
if mode ~= 'message' then
  target = tonumber(ARGV[5])
  message = live_message(log, stream, seq_key, target, retention)
  if not message then return {-1} end
  if ARGV[7] ~= '1' and message.user.id ~= ARGV[6] then return {-2} end
end
local epoch = room_epoch(seq_key, epoch_key, ARGV[11])
local seq = redis.call('INCR', seq_key)
local body = '{"seq":' .. seq .. ',"epoch":' .. cjson.encode(epoch) .. ','
  .. ARGV[1]
redis.call('HSET', log, seq, body)
local window = tonumber(ARGV[3])
if sent and window > 0 then
  redis.call('SET', sent, body, 'PX', window)
end
local function replace(m)
  local encoded = cjson.encode(m)
  redis.call('HSET', log, m.seq, encoded)
  redis.call('XDEL', stream, m.seq .. '-0')
  if m.client_id then
    local key = sent_key(ARGV[10], m.user.id, m.client_id)
    if redis.call('EXISTS', key) == 1 then
      redis.call('SET', key, encoded, 'KEEPTTL')
    end
  end
end
if mode == 'edit' then
  message.text = ARGV[8]
  message.edited_at = tonumber(ARGV[9])
  replace(message)
  local list = cjson.decode(redis.call('HGET', edits, target) or '[]')
  table.insert(list, seq)
  redis.call('HSET', edits, target, cjson.encode(list))
elseif mode == 'delete' then
  message.text = nil
  message.edited_at = nil
  message.deleted = true
  replace(message)
  redis.call('HDEL', reactions, target)
  local list = cjson.decode(redis.call('HGET', edits, target) or '[]')
  for _, edit_seq in ipairs(list) do
    local edit = entry(log, stream, edit_seq)
    if edit then
      local scrubbed = cjson.decode(edit)
      scrubbed.text = nil
      replace(scrubbed)
    end
  end
  redis.call('HDEL', edits, target)
end
-- Trimmed after the change: a delete scrubs its target even when the
-- delete itself pushes the target out of retention.
local old = seq - retention
if old > 0 then
  redis.call('HDEL', log, old)
  redis.call('HDEL', reactions, old)
  redis.call('HDEL', edits, old)
  if redis.call('EXISTS', stream) == 1 then
    redis.call('XTRIM', stream, 'MINID', old + 1)
  end
end
return {0, body}
"""

# KEYS: seq, log, stream, reactions, epoch
# ARGV: mode ('latest' | 'after' | 'before'), seq, count, retention,
#       a fresh epoch
# Returns {oldest kept seq (0 when none), entries oldest first, their
# reaction JSON (false when none), epoch, last seq}.
READ_SCRIPT = HELPERS + """
local epoch = room_epoch(KEYS[1], KEYS[5], ARGV[5])
local last = tonumber(redis.call('GET', KEYS[1]))
if last == 0 then return {0, {}, {}, epoch, 0} end
local oldest = math.max(0, last - tonumber(ARGV[4])) + 1
local mode, seq, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local from, to
if mode == 'latest' then
  to = last
  from = math.max(oldest, last - count + 1)
elseif mode == 'after' then
  from = math.max(oldest, seq + 1)
  to = math.min(last, from + count - 1)
else
  to = math.min(last, seq - 1)
  from = math.max(oldest, to - count + 1)
end
if from > to then return {oldest, {}, {}, epoch, last} end
local fields = {}
for s = from, to do fields[#fields + 1] = s end
local bodies = redis.call('HMGET', KEYS[2], unpack(fields))
local found = redis.call('HMGET', KEYS[4], unpack(fields))
local entries, reactions = {}, {}
for i, s in ipairs(fields) do
  local body = bodies[i] or entry(KEYS[2], KEYS[3], s)
  if body then
    entries[#entries + 1] = body
    reactions[#reactions + 1] = found[i]
  end
end
return {oldest, entries, reactions, epoch, last}
"""

# KEYS: seq, log, stream, reactions
# ARGV: target seq, user id, emoji, on ('1' | '0'), retention,
#       most emoji per message
# Returns {count, changed (0/1)}, {-1} when the target is no live message,
# {-3} when a new emoji would pass the limit.
REACT_SCRIPT = HELPERS + """
local target = tonumber(ARGV[1])
if not live_message(KEYS[2], KEYS[3], KEYS[1], target,
                    tonumber(ARGV[5])) then
  return {-1}
end
local user, emoji, on = ARGV[2], ARGV[3], ARGV[4] == '1'
local map = cjson.decode(redis.call('HGET', KEYS[4], target) or '{}')
local users = map[emoji] or {}
local at = nil
for i, u in ipairs(users) do
  if u == user then at = i end
end
local changed = 0
if on and not at then
  if not map[emoji] then
    local distinct = 0
    for _ in pairs(map) do distinct = distinct + 1 end
    if distinct >= tonumber(ARGV[6]) then return {-3} end
  end
  table.insert(users, user)
  map[emoji] = users
  changed = 1
elseif not on and at then
  table.remove(users, at)
  if #users == 0 then map[emoji] = nil end
  changed = 1
end
if changed == 1 then
  if next(map) == nil then
    redis.call('HDEL', KEYS[4], target)
  else
    redis.call('HSET', KEYS[4], target, cjson.encode(map))
  end
end
return {#users, changed}
"""

# KEYS: reads (sorted set of positions), names, seq
# ARGV: user id, name, seq
# Returns {position now, moved (0/1)}.
MARK_READ_SCRIPT = """
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
local wanted = math.min(tonumber(ARGV[3]), last)
local current = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '-1')
if wanted > current then
  redis.call('ZADD', KEYS[1], wanted, ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  return {wanted, wanted > math.max(current, 0) and 1 or 0}
end
return {math.max(current, 0), 0}
"""

# KEYS: reads, seq, log, stream
# ARGV: user id, retention, most to count
# Returns {position, unread}.
READ_STATE_SCRIPT = HELPERS + """
local position = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0')
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local from = math.max(position, last - tonumber(ARGV[2])) + 1
local most, unread = tonumber(ARGV[3]), 0
for s = from, last do
  local body = entry(KEYS[3], KEYS[4], s)
  if body then
    local m = cjson.decode(body)
    if not m.kind and not m.deleted and m.user.id ~= ARGV[1] then
      unread = unread + 1
      if unread >= most then break end
    end
  end
end
return {position, unread}
"""
