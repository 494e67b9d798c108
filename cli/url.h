#pragma once

#include <string_view>

#include "http_url.h"
#include "tykhook/error.h"

namespace tykhook::cli {

/// An http:// or https:// URL split into the parts a request needs.
using Url = detail::HttpUrl;

/// Parses `text` as an http(s) URL; the error quotes the text (never its user information),
/// says what is wrong and shows the expected form. `credentials_option` is named as the way to
/// send credentials when the URL holds some.
[[nodiscard]] Parsed<Url> parse_url(std::string_view text,
                                    std::string_view credentials_option = {});

}  // namespace tykhook::cli
