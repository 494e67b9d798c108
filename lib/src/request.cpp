#include "tykhook/request.h"

#include <algorithm>

namespace tykhook {

bool header_name_equals(std::string_view a, std::string_view b) {
  const auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) {
           return lower(static_cast<unsigned char>(x)) == lower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string_view> Request::header_values(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const auto& header : headers) {
    if (header_name_equals(header.name, name)) values.push_back(header.value);
  }
  return values;
}

}  // namespace tykhook
