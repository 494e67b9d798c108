#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "redis_connection.h"
#include "redis_queue.h"
#include "store_impl.h"
#include "tykhook/error.h"

namespace tykhook::detail {
namespace {

// A Redis store: the claims, and the delivery queue beside them (redis_queue.cpp). A claim is
// the key `<prefix>{queue}:claim:<key>`, in the queue's hash tag, so that claiming and queueing
// are one script on one Cluster slot.
//
// Versions before the queue claimed `<prefix><key>`. So that an upgrade does not take a
// delivery that they claimed for new, the first store opened on a prefix looks for such claims
// once (SCAN) and notes in `<prefix>{queue}:layout` when it did and whether it found any. When
// it did, a claim also asks whether the old name exists (EXISTS, one more round trip) until
// one claim TTL after that time; after it, every old claim has expired.
class RedisStore final : public Store {
 public:
  RedisStore(RedisAddress address, std::optional<std::string> password, std::string uri,
             std::chrono::milliseconds timeout)
      : connections_(std::move(address), std::move(password), std::move(uri), timeout),
        token_prefix_(random_hex() + ":"),
        queue_(connections_, connections_.address().prefix, token_prefix_ + "worker"),
        old_claims_since_(old_claims_since()) {}

  // SET NX is the atomic claim. Each claim stores its own token, so that after a retry (the
  // first SET may have been applied before its reply was lost) a GET tells whether the key
  // holds this claim's token, i.e. whether this claim won after all.
  bool claim(std::string_view key, std::chrono::milliseconds ttl) override {
    check_ttl(ttl);
    if (old_claim_holds(key, ttl)) return false;
    const std::string name = queue_.claim_name(key);
    const std::string token = next_token();
    const std::string ttl_ms = std::to_string(ttl.count());
    bool retried = false;
    const auto reply = connections_.command("cannot claim a key",
                                            {"SET", name, token, "NX", "PX", ttl_ms}, &retried);
    // SET NX answers OK when it set the key and nil when the key exists; anything else is not
    // an answer to it, and must not be taken for "claimed before" (a duplicate).
    if (reply->type == REDIS_REPLY_STATUS && reply_text(*reply) == "OK") return true;
    if (reply->type != REDIS_REPLY_NIL) {
      connections_.fail("cannot claim a key",
                        "the server answered SET with something else than OK or nil",
                        "check that the address is a Redis server");
    }
    return retried && holds(name, token, "cannot claim a key");
  }

  void release(std::string_view key) override {
    (void)connections_.command("cannot release a key", {"DEL", queue_.claim_name(key)});
  }

  // Counting the keys under a prefix means scanning the whole database: not cheap.
  std::optional<std::size_t> size() const override { return std::nullopt; }

  // Whether Redis keeps a key after its own crash depends on the server's configuration.
  bool durable() const override { return false; }

  // ---- the queue ------------------------------------------------------------------------------

  bool has_queue() const override { return true; }

  // As claim(): after a retry, the claim's token tells whether the first attempt won (the
  // script is atomic: a claim that holds the token was queued with it).
  bool claim_and_enqueue(const QueueEntry& entry, std::chrono::milliseconds ttl) override {
    check_ttl(ttl);
    if (old_claim_holds(entry.key, ttl)) return false;
    const std::string token = next_token();
    bool retried = false;
    if (queue_.claim_and_enqueue(entry, ttl, token, &retried)) return true;
    return retried && holds(queue_.claim_name(entry.key), token, "cannot queue a delivery");
  }

  std::vector<LeasedEntry> take(TimePoint now, std::chrono::milliseconds lease,
                                std::size_t max) override {
    return queue_.take(now, lease, max);
  }
  bool finish(std::string_view key, std::uint64_t token, const AttemptRecord& record) override {
    return queue_.finish(key, token, record);
  }
  std::optional<TimePoint> next_due() override { return queue_.next_due(); }
  std::vector<QueueEntry> list(std::optional<QueueState> state, std::size_t limit) override {
    return queue_.list(state, limit);
  }
  std::optional<QueueEntry> find(std::string_view key) override { return queue_.find(key); }
  bool retry(std::string_view key, TimePoint now) override { return queue_.retry(key, now); }
  bool drop(std::string_view key) override { return queue_.drop(key); }
  QueueCounts counts() override { return queue_.counts(); }

 private:
  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // A glob pattern (SCAN MATCH) that matches `text` literally.
  static std::string glob_literal(std::string_view text) {
    std::string out;
    for (const char c : text) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out;
  }

  // Whether any key under the prefix is outside the queue's hash tag: a claim of a version
  // before the queue (or a key of a longer prefix: then old claims are asked for, needlessly).
  bool any_old_claim() {
    const std::string& prefix = connections_.address().prefix;
    const std::string pattern = glob_literal(prefix) + "*";
    const std::string& ours = queue_.base();
    std::string cursor = "0";
    do {
      const auto reply = connections_.command("cannot look for claims of earlier versions",
                                              {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return false;
      cursor = std::string(reply_text(*reply->element[0]));
      const redisReply& keys = *reply->element[1];
      for (std::size_t i = 0; i < keys.elements; ++i) {
        if (!reply_text(*keys.element[i]).starts_with(ours)) return true;
      }
    } while (cursor != "0");
    return false;
  }

  // When the first store on this prefix found claims of earlier versions (Unix ms), or nullopt
  // when it found none. The marker is `<ms> old` or `<ms> none`; the first to set it wins.
  std::optional<std::int64_t> old_claims_since() {
    const std::string marker = queue_.base() + "layout";
    constexpr std::string_view what = "cannot read the key layout";
    auto reply = connections_.command(what, {"GET", marker});
    if (reply->type != REDIS_REPLY_STRING) {
      const std::string value = std::to_string(now_ms()) + (any_old_claim() ? " old" : " none");
      (void)connections_.command(what, {"SET", marker, value, "NX"});
      reply = connections_.command(what, {"GET", marker});
    }
    if (reply->type != REDIS_REPLY_STRING) return std::nullopt;
    const std::string value(reply_text(*reply));
    const auto space = value.find(' ');
    if (space == std::string::npos || value.substr(space + 1) != "old") return std::nullopt;
    try {
      return std::stoll(value.substr(0, space));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

  // Whether an earlier version's claim of `key` holds it, while such claims may still exist.
  bool old_claim_holds(std::string_view key, std::chrono::milliseconds ttl) {
    if (!old_claims_since_ || now_ms() >= *old_claims_since_ + ttl.count()) return false;
    const std::string name = connections_.address().prefix + std::string(key);
    const auto reply = connections_.command("cannot claim a key", {"EXISTS", name});
    return reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
  }

  static std::string random_hex() {
    std::random_device random;
    const auto high = static_cast<std::uint64_t>(random()) << 32;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(high | random()));
    return hex;
  }

  std::string next_token() {
    return token_prefix_ + std::to_string(counter_.fetch_add(1, std::memory_order_relaxed));
  }

  // Whether the claim `name` holds `token`.
  bool holds(const std::string& name, const std::string& token, std::string_view what) {
    const auto held = connections_.command(what, {"GET", name});
    return held->type == REDIS_REPLY_STRING && reply_text(*held) == token;
  }

  RedisConnections connections_;
  const std::string token_prefix_;
  std::atomic<std::uint64_t> counter_{0};
  RedisQueue queue_;
  const std::optional<std::int64_t> old_claims_since_;
};

}  // namespace

std::unique_ptr<Store> open_redis_store(RedisAddress address, std::optional<std::string> password,
                                        std::string uri, std::chrono::milliseconds timeout) {
  return std::make_unique<RedisStore>(std::move(address), std::move(password), std::move(uri),
                                      timeout);
}

}  // namespace tykhook::detail
