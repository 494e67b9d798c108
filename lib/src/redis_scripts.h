#pragma once

// Private to the library: the Lua scripts of the Redis queue (redis_queue.cpp), each one atomic
// step that Redis runs. Every script gets the same KEYS, in key_layout's order (redis_queue.cpp
// names them), then the entry's own keys where it has one; ARGV[1] is the key base, from which
// a script names the entries it finds in an index. All of them share one hash tag, so that they
// live in one Redis Cluster slot.
//
// Times: the caller's, never Redis's clock, except for when done and dead entries expire (their
// claim's TTL runs on Redis's clock). An exact time is 20 decimal digits (nanoseconds since 1970
// plus 2^63), so that strings compare as the times do; a sorted set's score holds the same time
// in whole microseconds (exact in a double until the year 2255), for ordering and ranges.

#include <string_view>

namespace tykhook::detail::redis_scripts {

/// Shared by every script: the key names and the helpers.
///   due          sorted set: waiting entries that no attempt holds, by next attempt
///   leases       sorted set: entries an attempt holds, by the end of its lease
///   waiting      sorted set: pending and retrying entries, by arrival (oldest_waiting)
///   all          sorted set: every entry, by arrival (list)
///   done, dead   sorted sets: finished entries, by when they expire (Redis's clock, ms)
///   dead_ids     hash: key -> the id of its entry in the dead-letter stream
///   counts       hash: how many entries are pending, and retrying
///   ready        stream with the consumer group "workers": entries handed to a take; its
///                pending-entries list is what is in flight
///   dead_letters stream: the dead entries
///   tokens       counter: the last lease token
/// An entry is a hash `<base>entry:<key>` with fields event, method, target, headers, body,
/// received, state, attempts, next, error, retried; while an attempt holds it also token,
/// lease (its end) and id (its id in `ready`).
inline constexpr std::string_view prelude = R"lua(
local due, leases, waiting, all = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local done_set, dead_set, dead_ids, counts = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local ready, dead_letters, tokens = KEYS[9], KEYS[10], KEYS[11]
local base = ARGV[1]
local group = 'workers'
local fields = {'event', 'method', 'target', 'headers', 'body', 'received', 'state', 'attempts',
                'next', 'error', 'retried', 'token'}

local function entry_key(key) return base .. 'entry:' .. key end

-- Redis's own clock, in milliseconds: only for the expiry of claims.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Takes entry `key` (in `state`, with stream id `id` while in flight) out of every index but
-- `all`, and out of the counts.
local function unindex(key, state, id)
  if id then
    redis.call('XACK', ready, group, id)
    redis.call('XDEL', ready, id)
  end
  if state == 'pending' or state == 'retrying' then redis.call('HINCRBY', counts, state, -1) end
  redis.call('ZREM', due, key)
  redis.call('ZREM', leases, key)
  redis.call('ZREM', waiting, key)
  redis.call('ZREM', done_set, key)
  redis.call('ZREM', dead_set, key)
  local dead_id = redis.call('HGET', dead_ids, key)
  if dead_id then
    redis.call('XDEL', dead_letters, dead_id)
    redis.call('HDEL', dead_ids, key)
  end
end

-- Removes entry `key`, its hash and every index of it.
local function forget(key)
  local e = entry_key(key)
  local f = redis.call('HMGET', e, 'state', 'id')
  unindex(key, f[1], f[2])
  redis.call('ZREM', all, key)
  redis.call('DEL', e)
end

-- The indexes of done and dead entries whose hash expired with their claim: at most 100 of
-- them go per call, so that no call takes long.
local function purge()
  local now = now_ms()
  for _, set in ipairs({done_set, dead_set}) do
    for _, key in ipairs(redis.call('ZRANGEBYSCORE', set, '-inf', now, 'LIMIT', 0, 100)) do
      if redis.call('EXISTS', entry_key(key)) == 0 then forget(key) end
    end
  end
end
)lua";

/// claim_and_enqueue. KEYS[12] the claim, KEYS[13] the entry. ARGV: base, key, claim token,
/// TTL (ms), event, method, target, headers, body, received (exact), received (µs). The claim
/// (SET NX PX, as claim() makes it) and the pending entry, due at its arrival, in one step;
/// a waiting entry of the key (its claim expired meanwhile) stays as it is. Returns 1 when the
/// claim won.
inline constexpr std::string_view enqueue = R"lua(
local key, e = ARGV[2], KEYS[13]
if not redis.call('SET', KEYS[12], ARGV[3], 'NX', 'PX', ARGV[4]) then return 0 end
local state = redis.call('HGET', e, 'state')
if state == 'pending' or state == 'retrying' then return 1 end
if state then forget(key) end
purge()
redis.call('HSET', e, 'event', ARGV[5], 'method', ARGV[6], 'target', ARGV[7], 'headers', ARGV[8],
           'body', ARGV[9], 'received', ARGV[10], 'state', 'pending', 'attempts', 0,
           'next', ARGV[10])
redis.call('ZADD', due, ARGV[11], key)
redis.call('ZADD', waiting, ARGV[11], key)
redis.call('ZADD', all, ARGV[11], key)
redis.call('HINCRBY', counts, 'pending', 1)
return 1
)lua";

/// take. ARGV: base, now (exact), now (µs), lease end (exact), lease end (µs), max, consumer.
/// Due entries (next attempt reached) join the stream and are read by this consumer
/// (XREADGROUP); entries whose lease ran out by the caller's clock move to it (XCLAIM). Oldest
/// due first; each gets a new token and lease and counts an attempt. Returns one array of
/// `fields` per entry, its key first.
inline constexpr std::string_view take = R"lua(
local now, max, consumer = ARGV[2], tonumber(ARGV[6]), ARGV[7]
local picked = {}
for _, source in ipairs({{leases, 'lease', true}, {due, 'next', false}}) do
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', source[1], '-inf', ARGV[3], 'LIMIT', 0, max)) do
    local at = redis.call('HGET', entry_key(key), source[2])
    if at and at <= now then picked[#picked + 1] = {at, key, source[3]} end
  end
end
table.sort(picked, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
if redis.call('EXISTS', ready) == 0 then
  redis.call('XGROUP', 'CREATE', ready, group, '$', 'MKSTREAM')
end
local count, fresh = math.min(max, #picked), 0
for i = 1, count do
  local key, e = picked[i][2], entry_key(picked[i][2])
  if picked[i][3] then
    redis.call('XCLAIM', ready, group, consumer, 0, redis.call('HGET', e, 'id'), 'JUSTID')
  else
    redis.call('ZREM', due, key)
    redis.call('HSET', e, 'id', redis.call('XADD', ready, '*', 'key', key))
    fresh = fresh + 1
  end
end
if fresh > 0 then
  redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', fresh, 'STREAMS', ready, '>')
end
local out = {}
for i = 1, count do
  local key, e = picked[i][2], entry_key(picked[i][2])
  redis.call('HSET', e, 'token', redis.call('INCR', tokens), 'lease', ARGV[4])
  redis.call('HINCRBY', e, 'attempts', 1)
  redis.call('ZADD', leases, ARGV[5], key)
  local entry = redis.call('HMGET', e, unpack(fields))
  table.insert(entry, 1, key)
  out[i] = entry
end
return out
)lua";

/// finish. KEYS[12] the claim, KEYS[13] the entry. ARGV: base, key, token, state, next attempt
/// (exact), next attempt (µs), error, whether there is an error ("1"). Changes nothing and
/// returns 0 unless the token holds the entry. The attempt leaves the stream (XACK, XDEL);
/// retrying waits in `due`; done and dead expire with the claim (at once when it has), and a
/// dead one joins the dead-letter stream.
inline constexpr std::string_view finish = R"lua(
local key, e = ARGV[2], KEYS[13]
local f = redis.call('HMGET', e, 'token', 'state', 'id')
if not f[1] or f[1] ~= ARGV[3] then return 0 end
redis.call('XACK', ready, group, f[3])
redis.call('XDEL', ready, f[3])
redis.call('ZREM', leases, key)
redis.call('HDEL', e, 'token', 'lease', 'id')
redis.call('HINCRBY', counts, f[2], -1)
if ARGV[8] == '1' then redis.call('HSET', e, 'error', ARGV[7]) else redis.call('HDEL', e, 'error') end
local state = ARGV[4]
redis.call('HSET', e, 'state', state)
if state == 'retrying' then
  redis.call('HSET', e, 'next', ARGV[5])
  redis.call('ZADD', due, ARGV[6], key)
  redis.call('HINCRBY', counts, 'retrying', 1)
  return 1
end
redis.call('HDEL', e, 'next')
redis.call('ZREM', waiting, key)
local ttl = redis.call('PTTL', KEYS[12])
if ttl == -2 then
  forget(key)
  return 1
end
local expires = '+inf'
if ttl >= 0 then
  redis.call('PEXPIRE', e, math.max(ttl, 1))
  expires = now_ms() + ttl
end
if state == 'done' then
  redis.call('ZADD', done_set, expires, key)
else
  redis.call('ZADD', dead_set, expires, key)
  redis.call('HSET', dead_ids, key, redis.call('XADD', dead_letters, '*', 'key', key))
end
return 1
)lua";

/// retry. KEYS[12] the claim, KEYS[13] the entry. ARGV: base, key, now (exact), now (µs). The
/// entry, whatever its state, is pending again and due now, attempts from 0; an attempt in
/// flight loses it; a done or dead one no longer expires. Returns 0 when there is no entry.
inline constexpr std::string_view retry = R"lua(
local key, e = ARGV[2], KEYS[13]
local f = redis.call('HMGET', e, 'state', 'id')
if not f[1] then return 0 end
unindex(key, f[1], f[2])
redis.call('PERSIST', e)
redis.call('HDEL', e, 'token', 'lease', 'id')
redis.call('HSET', e, 'state', 'pending', 'attempts', 0, 'next', ARGV[3], 'retried', ARGV[3])
redis.call('ZADD', due, ARGV[4], key)
redis.call('ZADD', waiting, redis.call('ZSCORE', all, key), key)
redis.call('HINCRBY', counts, 'pending', 1)
return 1
)lua";

/// drop. KEYS[12] the claim, KEYS[13] the entry. ARGV: base, key. Removes the entry (the claim
/// stays). Returns 0 when there is none.
inline constexpr std::string_view drop = R"lua(
if redis.call('EXISTS', KEYS[13]) == 0 then return 0 end
forget(ARGV[2])
return 1
)lua";

/// next_due. ARGV: base. The earliest next attempt of an entry in `due` or lease end in
/// `leases` (exact), or nil.
inline constexpr std::string_view next_due = R"lua(
local best = false
for _, source in ipairs({{due, 'next'}, {leases, 'lease'}}) do
  local first = redis.call('ZRANGE', source[1], 0, 0, 'WITHSCORES')
  if first[1] then
    for _, key in ipairs(redis.call('ZRANGEBYSCORE', source[1], first[2], first[2])) do
      local at = redis.call('HGET', entry_key(key), source[2])
      if at and (not best or at < best) then best = at end
    end
  end
end
return best
)lua";

/// counts. ARGV: base. Purges, then {pending, retrying, done, dead, oldest waiting arrival
/// (exact) or nil}: a few reads whatever the queue's length.
inline constexpr std::string_view counts = R"lua(
purge()
local c = redis.call('HMGET', counts, 'pending', 'retrying')
local oldest = false
local first = redis.call('ZRANGE', waiting, 0, 0, 'WITHSCORES')
if first[1] then
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', waiting, first[2], first[2])) do
    local at = redis.call('HGET', entry_key(key), 'received')
    if at and (not oldest or at < oldest) then oldest = at end
  end
end
return {tonumber(c[1] or 0), tonumber(c[2] or 0), redis.call('ZCARD', done_set),
        redis.call('ZCARD', dead_set), oldest, redis.call('XLEN', ready),
        redis.call('XLEN', dead_letters)}
)lua";

/// list. ARGV: base, state ("" for every state), limit. Purges, then returns up to `limit`
/// entries (as take does, without the token) newest received first; the dead ones from the
/// dead-letter stream, of which only the arrival of each is read to choose them. The caller
/// orders ties by key.
inline constexpr std::string_view list = R"lua(
purge()
local state, limit = ARGV[2], tonumber(ARGV[3])
local out = {}
local function add(key)
  local entry = redis.call('HMGET', entry_key(key), unpack(fields))
  if entry[7] and (state == '' or entry[7] == state) then
    table.insert(entry, 1, key)
    out[#out + 1] = entry
  end
end
if state == 'dead' then
  -- The dead-letter stream is in order of death: read each one's arrival alone (a fixed-width
  -- string that sorts as the time does), and only the newest `limit` whole.
  local found = {}
  for _, item in ipairs(redis.call('XREVRANGE', dead_letters, '+', '-')) do
    local key = item[2][2]
    local received = redis.call('HGET', entry_key(key), 'received')
    if received then found[#found + 1] = {received, key} end
  end
  table.sort(found, function(a, b)
    if a[1] ~= b[1] then return a[1] > b[1] end
    return a[2] < b[2]
  end)
  for i = 1, math.min(limit, #found) do add(found[i][2]) end
  return out
end
local index = all
if state == 'pending' or state == 'retrying' then index = waiting end
local start = 0
while #out < limit do
  local keys = redis.call('ZREVRANGE', index, start, start + 99)
  if #keys == 0 then break end
  for _, key in ipairs(keys) do
    if #out < limit then add(key) end
  end
  start = start + 100
end
return out
)lua";

/// forget_consumer. ARGV: base, consumer. Removes the consumer from the group when it holds no
/// entry in flight (a store that goes away would otherwise leave its name behind; one that
/// holds some leaves them for others to take over). Returns 1 when it removed one.
inline constexpr std::string_view forget_consumer = R"lua(
if redis.call('EXISTS', ready) == 0 then return 0 end
local held = redis.pcall('XPENDING', ready, group, '-', '+', 1, ARGV[2])
if type(held) ~= 'table' or #held > 0 then return 0 end
return redis.call('XGROUP', 'DELCONSUMER', ready, group, ARGV[2])
)lua";

}  // namespace tykhook::detail::redis_scripts
