#include "tykhook/explain.h"

#include <string_view>

namespace tykhook {
namespace {

constexpr std::string_view white_space = " \t\r\n";

// Whether `digest` is the HMAC of `body` under any of `secrets` (constant-time comparisons).
bool signs(const std::vector<Secret>& secrets, std::string_view body, const Digest& digest) {
  return !secrets.empty() && SignatureVerifier(secrets).match(body, digest).has_value();
}

}  // namespace

std::vector<std::string> explain_mismatch(const Request& request,
                                          const std::vector<Secret>& secrets) {
  const auto values = request.header_values(signature_header);
  if (values.size() != 1) return {};
  const auto digest = parse_signature_header(values.front());
  if (!digest) return {};

  std::vector<std::string> hints;
  // A newline after the body: an editor's final newline, or a capture tool's.
  const std::string_view body = request.body;
  const auto end = body.find_last_not_of("\r\n");
  const std::string_view without_newlines =
      body.substr(0, end == std::string_view::npos ? 0 : end + 1);
  if (without_newlines.size() != body.size() && signs(secrets, without_newlines, *digest)) {
    hints.push_back(
        "the signature matches the body without its final newline: one was added after "
        "signing (an editor's final newline?); remove it");
  }
  // A secret with white space around it: a newline kept from a file or a variable.
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    const std::string_view bytes = secrets[i].bytes();
    const auto first = bytes.find_first_not_of(white_space);
    if (first == std::string_view::npos) continue;
    const std::string_view trimmed =
        bytes.substr(first, bytes.find_last_not_of(white_space) - first + 1);
    if (trimmed.size() == bytes.size()) continue;
    if (signs({Secret(std::string(trimmed))}, body, *digest)) {
      hints.push_back("the signature matches secret " + std::to_string(i + 1) + " of " +
                      std::to_string(secrets.size()) +
                      " without the white space around it (a newline in its file or variable?); "
                      "remove it from the secret");
    }
  }
  return hints;
}

}  // namespace tykhook
