#pragma once

// Private to the library: a request's headers as one byte string, as the SQLite and Redis
// queues store them. For each header: its name's length (4 bytes, big-endian), the name, its
// value's length and the value. Any bytes survive, in order.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tykhook/request.h"

namespace tykhook::detail {

inline void put_length(std::string& out, std::size_t length) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((length >> shift) & 0xff));
  }
}

/// Returns `headers` as one byte string.
inline std::string encode_headers(const std::vector<Header>& headers) {
  std::string out;
  for (const auto& header : headers) {
    put_length(out, header.name.size());
    out += header.name;
    put_length(out, header.value.size());
    out += header.value;
  }
  return out;
}

inline std::optional<std::string> take_part(std::string_view& in) {
  if (in.size() < 4) return std::nullopt;
  std::size_t length = 0;
  for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(4);
  if (in.size() < length) return std::nullopt;
  std::string part(in.substr(0, length));
  in.remove_prefix(length);
  return part;
}

/// Returns the headers that encode_headers wrote as `in`, or nullopt when `in` is cut short.
inline std::optional<std::vector<Header>> decode_headers(std::string_view in) {
  std::vector<Header> headers;
  while (!in.empty()) {
    auto name = take_part(in);
    if (!name) return std::nullopt;
    auto value = take_part(in);
    if (!value) return std::nullopt;
    headers.push_back({std::move(*name), std::move(*value)});
  }
  return headers;
}

}  // namespace tykhook::detail
