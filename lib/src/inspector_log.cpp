#include "inspector_log.h"

#include <algorithm>

namespace tykhook::detail {

namespace {

// Attempts noted per delivery, at most: a delivery retried for days keeps its latest ones.
constexpr std::size_t max_attempt_notes = 50;

}  // namespace

DeliveryLog::DeliveryLog(std::size_t keep, std::size_t max_bytes)
    : keep_(std::max<std::size_t>(keep, 1)), max_bytes_(max_bytes) {}

std::size_t DeliveryLog::size_of(const InspectedDelivery& delivery) {
  std::size_t size = sizeof(InspectedDelivery) + delivery.details.body.size();
  for (const auto& header : delivery.details.headers) {
    size += header.name.size() + header.value.size();
  }
  for (const auto& error : delivery.errors) size += error.size();
  return size;
}

void DeliveryLog::add(InspectedDelivery delivery) {
  const std::lock_guard lock(mutex_);
  delivery.id = next_id_++;
  bytes_ += size_of(delivery);
  if (!delivery.details.key.empty()) newest_by_key_[delivery.details.key] = delivery.id;
  deliveries_.push_back(std::make_shared<const InspectedDelivery>(std::move(delivery)));
  // The newest one stays even when it alone is over the size: the page shows what just came.
  while (deliveries_.size() > 1 && (deliveries_.size() > keep_ || bytes_ > max_bytes_)) {
    forget_oldest();
  }
}

void DeliveryLog::forget_oldest() {
  const Kept oldest = deliveries_.front();
  deliveries_.pop_front();
  bytes_ -= size_of(*oldest);
  ++dropped_;
  const auto newest = newest_by_key_.find(oldest->details.key);
  if (newest != newest_by_key_.end() && newest->second == oldest->id) {
    // No kept delivery has its key any more.
    newest_by_key_.erase(newest);
    attempts_.erase(oldest->details.key);
  }
}

DeliveryLog::Kept DeliveryLog::find_locked(std::uint64_t id) const {
  if (deliveries_.empty() || id < deliveries_.front()->id || id > deliveries_.back()->id) {
    return nullptr;
  }
  return deliveries_[id - deliveries_.front()->id];
}

DeliveryLog::Kept DeliveryLog::find_key_locked(std::string_view key) const {
  const auto newest = newest_by_key_.find(key);
  return newest == newest_by_key_.end() ? nullptr : find_locked(newest->second);
}

void DeliveryLog::attempted(const std::string& key, AttemptNote note) {
  const std::lock_guard lock(mutex_);
  // The worker may finish a first attempt before the receiver has answered the delivery (and
  // added it here): notes are kept for keys not yet seen too, and swept when they pile up.
  if (attempts_.size() >= 2 * keep_ && !attempts_.contains(key)) {
    std::erase_if(attempts_,
                  [this](const auto& notes) { return !newest_by_key_.contains(notes.first); });
  }
  auto& notes = attempts_[key];
  if (notes.size() == max_attempt_notes) notes.erase(notes.begin());
  notes.push_back(std::move(note));
}

DeliveryLog::Page DeliveryLog::recent(const DeliveryFilter& filter) const {
  const std::lock_guard lock(mutex_);
  Page page{.latest = next_id_ - 1, .kept = deliveries_.size(), .dropped = dropped_};
  for (auto it = deliveries_.rbegin(); it != deliveries_.rend(); ++it) {
    const InspectedDelivery& delivery = **it;
    if (delivery.id <= filter.after || page.deliveries.size() >= filter.limit) break;
    if (filter.verdict && delivery.record.verdict != *filter.verdict) continue;
    if (filter.event && delivery.record.event != *filter.event) continue;
    page.deliveries.push_back(*it);
  }
  return page;
}

std::vector<DeliveryLog::Kept> DeliveryLog::since(TimePoint since) const {
  const std::lock_guard lock(mutex_);
  std::vector<Kept> found;
  for (const Kept& delivery : deliveries_) {
    if (delivery->record.time >= since) found.push_back(delivery);
  }
  return found;
}

DeliveryLog::Kept DeliveryLog::find(std::uint64_t id) const {
  const std::lock_guard lock(mutex_);
  return find_locked(id);
}

DeliveryLog::Kept DeliveryLog::find_key(std::string_view key) const {
  const std::lock_guard lock(mutex_);
  return find_key_locked(key);
}

std::vector<AttemptNote> DeliveryLog::attempts(const std::string& key) const {
  const std::lock_guard lock(mutex_);
  const auto found = attempts_.find(key);
  return found == attempts_.end() ? std::vector<AttemptNote>{} : found->second;
}

}  // namespace tykhook::detail
