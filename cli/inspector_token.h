#pragma once

// `listen --ui`: the inspector's access token, generated or read from --ui-token-file.

#include <optional>
#include <string>
#include <vector>

namespace tykhook::cli {

/// The token, or the errors that stop listen (each names the file, never
/// its content).
struct InspectorToken {
  std::string token;
  std::vector<std::string> errors;
};

/// A new token: 32 random bytes as URL-safe base64 without padding (43 characters).
[[nodiscard]] InspectorToken generate_inspector_token();
/// The token in `path`: its bytes with one trailing newline removed; at least 16 characters of
/// letters, digits, '-', '_', '.' or '~', so that it can travel in a URL unchanged.
[[nodiscard]] InspectorToken read_inspector_token(const std::string& path);

}  // namespace tykhook::cli
