"""Lua shared by chatio's Redis scripts (presence and typing)."""

# Every script that includes this takes ARGV[2] as the time in seconds, or
# empty for the Redis server's TIME, so nodes need not agree on clocks.
# ``pair`` length-prefixes the room, so no user id can make two
# (room, user) pairs look alike; ``unpair`` splits one again.
NOW_AND_PAIRS = """
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function pair(room, user) return #room .. ':' .. room .. user end
local function unpair(s)
  local n, rest = string.match(s, '^(%d+):(.*)$')
  n = tonumber(n)
  return string.sub(rest, 1, n), string.sub(rest, n + 1)
end
"""
