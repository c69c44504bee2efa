"""The Lua scripts of the Redis store: one atomic call per store operation.

The limiter scripts mirror :mod:`resilience._store.gcra` function for function
(``fit_time``, ``admit``, ``charge``, ``refund``, ``sync_remaining``), so a
bucket in Redis behaves exactly like one in :class:`MemoryStore`. Every script
reads the server's ``TIME``: all processes then measure one bucket on one
clock, whatever their own clocks say, and the scripts answer in durations
("start in 0.025 s") that each caller converts back to its own clock.

Numbers travel as strings formatted with ``%.17g``: a Lua number returned to
Redis is truncated to an integer, and ``tostring`` keeps only 14 digits, which
for a Unix time is a tenth of a millisecond.

Limiter hash fields: ``rt`` requests tat, ``tt`` tokens tat, ``ts`` tokens
refund shift, ``h`` pushback hold (server times). Breaker hash fields: ``v``
version, ``s`` state, ``ou`` open until, ``t`` trips in a row, ``ca`` closed
at, ``oa`` opened at (server times; ``''`` for none).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

__all__ = [
    "BRK_READ",
    "BRK_SAVE",
    "LIM_ADJUST",
    "LIM_HOLD",
    "LIM_RESERVE",
    "LIM_SYNC",
    "Script",
]


class Script(NamedTuple):
    name: str
    source: str
    sha: str


def _script(name: str, body: str) -> Script:
    source = _PRELUDE + body
    return Script(name, source, hashlib.sha1(source.encode()).hexdigest())


_PRELUDE = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local function num(x, default)
  local n = tonumber(x)
  if n == nil then return default end
  return n
end
local function fmt(x) return string.format('%.17g', x) end
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function keep(key, now, ttl_ms, latest)
  local extra = 0
  if latest > now then extra = (latest - now) * 1000 end
  redis.call('PEXPIRE', key, math.ceil(ttl_ms + extra))
end
"""

_BUCKET = """
local function fit_time(tat, now, units, interval, capacity)
  if interval <= 0 or units <= 0 then return now end
  local base = tat
  if base < now then base = now end
  local room = capacity - units
  local start = base
  if room > 0 then start = base - room * interval end
  if start < now then start = now end
  return start
end
local function admit(tat, start, units, interval)
  if interval <= 0 then return tat end
  local base = tat
  if base < start then base = start end
  return base + units * interval
end
"""

LIM_RESERVE = _script(
    "reserve",
    _BUCKET
    + """
-- KEYS: bucket, workers. ARGV: tokens, ri, rcap, ti, tcap, ahead_r, ahead_t,
-- ttl_ms, worker id ('' = do not register now), worker window (s), backdate (s).
-- Returns {start - now, admitted, binding, mark, workers registered}.
--
-- Backdate: the caller's timer fired late and it asks as of the moment the
-- store named. Whether the call fits is decided at the server's real time;
-- the units are charged from the earlier moment (never before the bucket's
-- own schedule), so lateness does not slow the pace, as in MemoryStore.
local now = server_now()
local asof = now - tonumber(ARGV[11])
local tokens, ri, rcap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ti, tcap = tonumber(ARGV[4]), tonumber(ARGV[5])
local ar, at = tonumber(ARGV[6]), tonumber(ARGV[7])
local s = redis.call('HMGET', KEYS[1], 'rt', 'tt', 'ts', 'h')
local rt, tt, ts, h = num(s[1], 0), num(s[2], 0), num(s[3], 0), num(s[4], 0)
if ARGV[9] ~= '' then
  local window = tonumber(ARGV[10])
  redis.call('ZADD', KEYS[2], now, ARGV[9])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  redis.call('PEXPIRE', KEYS[2], math.ceil(window * 2000))
end
local workers = redis.call('ZCARD', KEYS[2])
local start, binding = now, ''
if h > start then start, binding = h, 'pushback' end
if ri > 0 then
  local tat = rt
  if ar > 0 then tat = math.max(rt, now) + ar * ri end
  local t = fit_time(tat, now, 1, ri, rcap)
  if t > start then start, binding = t, 'requests' end
end
if ti > 0 and tokens > 0 then
  local tat = tt
  if at > 0 then tat = math.max(tt, now) + at * ti end
  local t = fit_time(tat, now, tokens, ti, tcap)
  if t > start then start, binding = t, 'tokens' end
end
if start > now or ar > 0 or at > 0 then
  return {fmt(start - now), 0, binding, '0', workers}
end
rt = admit(rt, asof, 1, ri)
tt = admit(tt, asof, tokens, ti)
redis.call('HSET', KEYS[1], 'rt', fmt(rt), 'tt', fmt(tt))
keep(KEYS[1], now, tonumber(ARGV[8]), math.max(rt, tt, h))
return {'0', 1, '', fmt(tt + ts), workers}
""",
)

LIM_ADJUST = _script(
    "adjust",
    """
-- KEYS: bucket. ARGV: tokens (> 0 charge, < 0 refund), ti, mark, ttl_ms, max_debt.
local now = server_now()
local tokens, ti, mark = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if ti <= 0 or tokens == 0 then return 0 end
local s = redis.call('HMGET', KEYS[1], 'rt', 'tt', 'ts', 'h')
local rt, tt, ts, h = num(s[1], 0), num(s[2], 0), num(s[3], 0), num(s[4], 0)
if tokens > 0 then
  local base = tt
  if base < now then base = now end
  local new = base + tokens * ti
  local cap = now + tonumber(ARGV[5])
  if new > cap then
    if cap > tt then new = cap else new = tt end
  end
  tt = new
else
  local undrained = (mark - ts - now) / ti
  if undrained <= 0 then return 0 end
  local units = -tokens
  if units > undrained then units = undrained end
  local back = units * ti
  tt, ts = tt - back, ts + back
end
redis.call('HSET', KEYS[1], 'tt', fmt(tt), 'ts', fmt(ts))
keep(KEYS[1], now, tonumber(ARGV[4]), math.max(rt, tt, h))
return 1
""",
)

LIM_SYNC = _script(
    "sync",
    """
-- KEYS: bucket. ARGV: ri, rcap, ti, tcap, requests left ('' = unknown), tokens left, ttl_ms.
local now = server_now()
local ri, rcap = tonumber(ARGV[1]), tonumber(ARGV[2])
local ti, tcap = tonumber(ARGV[3]), tonumber(ARGV[4])
local s = redis.call('HMGET', KEYS[1], 'rt', 'tt', 'ts', 'h')
local rt, tt, h = num(s[1], 0), num(s[2], 0), num(s[4], 0)
local function floor_of(tat, remaining, interval, capacity)
  if interval <= 0 or remaining >= capacity then return tat end
  if remaining < 0 then remaining = 0 end
  local floor = now + (capacity - remaining) * interval
  if floor > tat then return floor end
  return tat
end
local nrt, ntt = rt, tt
if ARGV[5] ~= '' then nrt = floor_of(rt, tonumber(ARGV[5]), ri, rcap) end
if ARGV[6] ~= '' then ntt = floor_of(tt, tonumber(ARGV[6]), ti, tcap) end
if nrt == rt and ntt == tt then return 0 end
redis.call('HSET', KEYS[1], 'rt', fmt(nrt), 'tt', fmt(ntt))
keep(KEYS[1], now, tonumber(ARGV[7]), math.max(nrt, ntt, h))
return 1
""",
)

LIM_HOLD = _script(
    "hold",
    """
-- KEYS: bucket. ARGV: seconds from now, ttl_ms. Returns the hold in force, from now.
local now = server_now()
local h = num(redis.call('HGET', KEYS[1], 'h'), 0)
local want = now + tonumber(ARGV[1])
if want > h then
  h = want
  redis.call('HSET', KEYS[1], 'h', fmt(h))
  local s = redis.call('HMGET', KEYS[1], 'rt', 'tt')
  keep(KEYS[1], now, tonumber(ARGV[2]), math.max(num(s[1], 0), num(s[2], 0), h))
end
return fmt(h - now)
""",
)

_BRK_VIEW = """
-- A record as the caller needs it: durations and ages from the server's now.
local function view(accepted, v, st, ou, t, ca, oa, now)
  local cage, oage = '', ''
  if ca and ca ~= '' then cage = fmt(now - tonumber(ca)) end
  if oa and oa ~= '' then oage = fmt(now - tonumber(oa)) end
  return {accepted, v, st, fmt(ou - now), t, cage, oage}
end
"""

BRK_READ = _script(
    "breaker_read",
    _BRK_VIEW
    + """
-- KEYS: record. Returns {0, v, state, open for, trips, closed age, opened age}.
local now = server_now()
local c = redis.call('HMGET', KEYS[1], 'v', 's', 'ou', 't', 'ca', 'oa')
return view(0, num(c[1], 0), c[2] or 'closed', num(c[3], now), num(c[4], 0), c[5], c[6], now)
""",
)

BRK_SAVE = _script(
    "breaker_save",
    _BRK_VIEW
    + """
-- KEYS: record. ARGV: base version, state, open for (s), trips, closed age ('' none),
-- opened age ('' none), force ('1': a reset by hand), ttl_ms, channel, key name.
-- Optimistic: written only over the version the caller last knew, except that
-- a trip always lands (merged with an open already there) and a reset wins.
local now = server_now()
local c = redis.call('HMGET', KEYS[1], 'v', 's', 'ou', 't', 'ca', 'oa')
local v = num(c[1], 0)
local base, st, trips = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[4])
local ou = now + tonumber(ARGV[3])
local accept = v == base or ARGV[7] == '1'
if st == 'open' then
  accept = true
  if v ~= base and c[2] == 'open' then
    ou = math.max(ou, num(c[3], 0))
    trips = math.max(trips, num(c[4], 0))
  end
end
if not accept then
  return view(0, v, c[2] or 'closed', num(c[3], now), num(c[4], 0), c[5], c[6], now)
end
v = v + 1
local ca, oa = '', ''
if ARGV[5] ~= '' then ca = fmt(now - tonumber(ARGV[5])) end
if ARGV[6] ~= '' then oa = fmt(now - tonumber(ARGV[6])) end
redis.call('HSET', KEYS[1], 'v', v, 's', st, 'ou', fmt(ou), 't', trips, 'ca', ca, 'oa', oa)
keep(KEYS[1], now, tonumber(ARGV[8]), ou)
local out = view(1, v, st, ou, trips, ca, oa, now)
redis.call('PUBLISH', ARGV[9], cjson.encode({
  k = ARGV[10], v = v, s = st, ou = out[4], t = trips, ca = out[6], oa = out[7]
}))
return out
""",
)
