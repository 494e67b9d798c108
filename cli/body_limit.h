#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tykhook::cli {

/// The largest --max-body: what the command line reads of one input (a capture or a body).
inline constexpr std::size_t largest_body_limit = std::size_t{256} << 20;

/// Parses a byte count: an integer, or one with a unit K, M or G (powers of 1024, also written
/// KiB, MiB, GiB), from 1 byte to largest_body_limit. The error says what was expected.
[[nodiscard]] std::optional<std::size_t> parse_body_limit(std::string_view text,
                                                          std::string* error = nullptr);

/// Adds --max-body BYTES to `command`, bound to `limit`; `larger` says what happens to a larger
/// body in that command (e.g. "; larger: 413").
void add_body_limit_option(CLI::App& command, std::size_t& limit, std::string_view larger);

}  // namespace tykhook::cli
