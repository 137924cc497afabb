"""Lua shared by chatio's Redis scripts (presence, typing, due rooms)."""

# Every script that includes this takes ARGV[1] as the time in seconds, or
# empty for the Redis server's TIME, so nodes need not agree on clocks.
# ``num`` formats a time exactly; ``pair`` length-prefixes its first part,
# so no id can make two pairs look alike, and ``unpair`` splits one again.
NOW_AND_PAIRS = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function num(x) return string.format('%.17g', x) end
local function pair(a, b) return #a .. ':' .. a .. b end
local function unpair(s)
  local n, rest = string.match(s, '^(%d+):(.*)$')
  n = tonumber(n)
  return string.sub(rest, 1, n), string.sub(rest, n + 1)
end
"""
