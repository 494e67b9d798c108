#include "redis_queue.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

#include "header_blob.h"
#include "redis_scripts.h"

namespace tykhook::detail {
namespace {

namespace scripts = redis_scripts;

RedisScript with_prelude(std::string_view text) {
  return RedisScript(std::string(scripts::prelude) + std::string(text));
}

// Each script with the shared prelude before it, built once.
struct Scripts {
  RedisScript enqueue = with_prelude(scripts::enqueue);
  RedisScript take = with_prelude(scripts::take);
  RedisScript finish = with_prelude(scripts::finish);
  RedisScript retry = with_prelude(scripts::retry);
  RedisScript drop = with_prelude(scripts::drop);
  RedisScript next_due = with_prelude(scripts::next_due);
  RedisScript counts = with_prelude(scripts::counts);
  RedisScript list = with_prelude(scripts::list);
  RedisScript forget_consumer = with_prelude(scripts::forget_consumer);
};

const Scripts& built() {
  static const Scripts all;
  return all;
}

// The fixed keys of the scripts' prelude, in its order.
constexpr std::string_view key_layout[] = {"due",   "leases",       "waiting",  "all",
                                           "done",  "dead",         "dead-ids", "counts",
                                           "ready", "dead-letters", "tokens"};

constexpr std::string_view read_hint = "check the server's state and configuration";

// A time as 20 decimal digits that compare as strings do: nanoseconds since 1970 plus 2^63.
std::string exact(TimePoint t) {
  const auto biased =
      static_cast<std::uint64_t>(t.time_since_epoch().count()) ^ (std::uint64_t{1} << 63);
  char text[21];
  std::snprintf(text, sizeof text, "%020llu", static_cast<unsigned long long>(biased));
  return text;
}

// The same time in whole microseconds (rounded down), for a sorted set's score.
std::string micros(TimePoint t) {
  return std::to_string(
      std::chrono::floor<std::chrono::microseconds>(t).time_since_epoch().count());
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The time that exact() wrote as `text`, or nullopt when it is not one.
std::optional<TimePoint> parse_exact(std::string_view text) {
  const auto value = parse_unsigned(text);
  if (!value) return std::nullopt;
  return TimePoint(
      std::chrono::nanoseconds(static_cast<std::int64_t>(*value ^ (std::uint64_t{1} << 63))));
}

bool present(const redisReply& reply) { return reply.type == REDIS_REPLY_STRING; }

}  // namespace

RedisQueue::RedisQueue(RedisConnections& connections, std::string_view prefix, std::string consumer)
    : connections_(connections),
      base_(std::string(prefix) + "{queue}:"),
      consumer_(std::move(consumer)) {
  for (const auto name : key_layout) layout_.push_back(base_ + std::string(name));
}

RedisQueue::~RedisQueue() {
  if (!took_.load(std::memory_order_relaxed)) return;
  try {
    (void)run("cannot leave the consumer group", built().forget_consumer, std::nullopt,
              {consumer_});
  } catch (const std::exception&) {
    // Redis is gone: the name stays in the group, harmless.
  }
}

std::string RedisQueue::claim_name(std::string_view key) const {
  return base_ + "claim:" + std::string(key);
}

Reply RedisQueue::run(std::string_view what, const RedisScript& script,
                      std::optional<std::string_view> key,
                      const std::vector<std::string_view>& args, bool* retried) {
  std::vector<std::string_view> keys(layout_.begin(), layout_.end());
  std::string claim, entry;
  if (key) {
    claim = claim_name(*key);
    entry = base_ + "entry:" + std::string(*key);
    keys.push_back(claim);
    keys.push_back(entry);
  }
  std::vector<std::string_view> all_args{base_};
  all_args.insert(all_args.end(), args.begin(), args.end());
  return connections_.script(what, script, keys, all_args, retried);
}

QueueEntry RedisQueue::read_entry(const redisReply& reply, std::size_t first,
                                  std::string key) const {
  const auto part = [&](std::size_t i) -> const redisReply& {
    if (reply.type != REDIS_REPLY_ARRAY || first + i >= reply.elements) {
      connections_.fail("cannot read the queue", "an entry came back incomplete", read_hint);
    }
    return *reply.element[first + i];
  };
  const auto text = [&](std::size_t i) {
    const auto& element = part(i);
    return present(element) ? std::string(reply_text(element)) : std::string();
  };
  const auto time = [&](std::size_t i) -> std::optional<TimePoint> {
    if (!present(part(i))) return std::nullopt;
    return exact_time(part(i));
  };
  QueueEntry entry;
  entry.key = std::move(key);
  const auto broken = [&](std::string_view what) {
    connections_.fail("queue entry " + entry.key, what,
                      "drop it (tykhook queue drop) and check what else writes to these keys");
  };
  entry.event = text(0);
  entry.request.method = text(1);
  entry.request.target = text(2);
  auto headers = decode_headers(text(3));
  if (!headers) broken("its headers cannot be read");
  entry.request.headers = std::move(*headers);
  entry.request.body = text(4);
  const auto received = time(5);
  if (!received) broken("it has no arrival time");
  entry.received = *received;
  const auto state = parse_queue_state(text(6));
  if (!state) broken("it has an unknown state");
  entry.state = *state;
  entry.attempts = static_cast<unsigned>(parse_unsigned(text(7)).value_or(0));
  entry.next_attempt = time(8);
  if (present(part(9))) entry.last_error = text(9);
  entry.retried = time(10);
  return entry;
}

QueueEntry RedisQueue::read_row(const redisReply& row) const {
  if (row.type != REDIS_REPLY_ARRAY || row.elements == 0 || !present(*row.element[0])) {
    connections_.fail("cannot read the queue", "an entry came back without its key", read_hint);
  }
  return read_entry(row, 1, std::string(reply_text(*row.element[0])));
}

bool RedisQueue::claim_and_enqueue(const QueueEntry& entry, std::chrono::milliseconds ttl,
                                   std::string_view token, bool* retried) {
  const std::string ttl_ms = std::to_string(ttl.count());
  const std::string headers = encode_headers(entry.request.headers);
  const std::string received = exact(entry.received), received_us = micros(entry.received);
  const auto reply = run("cannot queue a delivery", built().enqueue, entry.key,
                         {entry.key, token, ttl_ms, entry.event, entry.request.method,
                          entry.request.target, headers, entry.request.body, received, received_us},
                         retried);
  return reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
}

std::vector<LeasedEntry> RedisQueue::take(TimePoint now, std::chrono::milliseconds lease,
                                          std::size_t max) {
  std::vector<LeasedEntry> taken;
  if (max == 0) return taken;
  took_.store(true, std::memory_order_relaxed);
  const auto until = now + std::chrono::duration_cast<std::chrono::nanoseconds>(lease);
  const std::string now_exact = exact(now), now_us = micros(now), until_exact = exact(until),
                    until_us = micros(until),
                    most = std::to_string(std::min<std::size_t>(max, 1'000'000));
  const auto reply = run("cannot take queued deliveries", built().take, std::nullopt,
                         {now_exact, now_us, until_exact, until_us, most, consumer_});
  if (reply->type != REDIS_REPLY_ARRAY) return taken;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply& row = *reply->element[i];
    LeasedEntry leased{read_row(row), 0};
    if (row.elements > 12 && present(*row.element[12])) {
      leased.token = parse_unsigned(reply_text(*row.element[12])).value_or(0);
    }
    taken.push_back(std::move(leased));
  }
  return taken;
}

bool RedisQueue::finish(std::string_view key, std::uint64_t token, const AttemptRecord& record) {
  if (record.state == QueueState::pending) {
    throw std::invalid_argument("Store::finish: an attempt ends done, retrying or dead");
  }
  if (record.state == QueueState::retrying && !record.next_attempt) {
    throw std::invalid_argument("Store::finish: a retrying record needs its next_attempt");
  }
  const bool retrying = record.state == QueueState::retrying;
  const std::string token_text = std::to_string(token);
  const std::string next = retrying ? exact(*record.next_attempt) : std::string();
  const std::string next_us = retrying ? micros(*record.next_attempt) : std::string("0");
  const auto reply = run("cannot record an attempt", built().finish, key,
                         {key, token_text, to_string(record.state), next, next_us,
                          record.error.value_or(""), record.error ? "1" : "0"});
  return reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
}

TimePoint RedisQueue::exact_time(const redisReply& reply) const {
  const auto time = parse_exact(reply_text(reply));
  if (!time) connections_.fail("cannot read the queue", "a time is not a number", read_hint);
  return *time;
}

std::optional<TimePoint> RedisQueue::next_due() {
  const auto reply = run("cannot read the queue", built().next_due, std::nullopt, {});
  if (!present(*reply)) return std::nullopt;
  return exact_time(*reply);
}

std::vector<QueueEntry> RedisQueue::list(std::optional<QueueState> state, std::size_t limit) {
  std::vector<QueueEntry> entries;
  if (limit == 0) return entries;
  const std::string state_name = state ? std::string(to_string(*state)) : std::string();
  const std::string most = std::to_string(std::min<std::size_t>(limit, 1'000'000'000));
  const auto reply = run("cannot list the queue", built().list, std::nullopt, {state_name, most});
  if (reply->type != REDIS_REPLY_ARRAY) return entries;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    entries.push_back(read_row(*reply->element[i]));
  }
  // Sorted sets order equal scores (the same microsecond) by key, the dead-letter stream by
  // death: newest received first, then by key, as the other stores list.
  std::sort(entries.begin(), entries.end(), [](const QueueEntry& a, const QueueEntry& b) {
    return a.received != b.received ? a.received > b.received : a.key < b.key;
  });
  if (entries.size() > limit) entries.resize(limit);
  return entries;
}

std::optional<QueueEntry> RedisQueue::find(std::string_view key) {
  const std::string entry = base_ + "entry:" + std::string(key);
  std::vector<std::string_view> args{"HMGET", entry};
  for (const auto* field : {"event", "method", "target", "headers", "body", "received", "state",
                            "attempts", "next", "error", "retried"}) {
    args.emplace_back(field);
  }
  const auto reply = connections_.command("cannot read the queue", args);
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 11 || !present(*reply->element[6])) {
    return std::nullopt;
  }
  return read_entry(*reply, 0, std::string(key));
}

bool RedisQueue::retry(std::string_view key, TimePoint now) {
  const std::string now_exact = exact(now), now_us = micros(now);
  const auto reply =
      run("cannot send a queued delivery back", built().retry, key, {key, now_exact, now_us});
  return reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
}

bool RedisQueue::drop(std::string_view key) {
  const auto reply = run("cannot drop a queued delivery", built().drop, key, {key});
  return reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
}

QueueCounts RedisQueue::counts() {
  const auto reply = run("cannot count the queue", built().counts, std::nullopt, {});
  QueueCounts counts;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 7) {
    connections_.fail("cannot count the queue", "the counts came back incomplete", read_hint);
  }
  const auto count = [&](std::size_t i) {
    const auto& element = *reply->element[i];
    return element.type == REDIS_REPLY_INTEGER && element.integer > 0
               ? static_cast<std::size_t>(element.integer)
               : std::size_t{0};
  };
  counts.pending = count(0);
  counts.retrying = count(1);
  counts.done = count(2);
  counts.dead = count(3);
  if (present(*reply->element[4])) counts.oldest_waiting = exact_time(*reply->element[4]);
  counts.ready_stream_length = count(5);
  counts.dead_letter_stream_length = count(6);
  return counts;
}

}  // namespace tykhook::detail
