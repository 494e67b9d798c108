#include "tykhook/explain.h"

#include <optional>
#include <set>
#include <string_view>

#include "base64.h"
#include "hex.h"
#include "http_syntax.h"
#include "json_reencode.h"

// Each test below rebuilds what the signer may have signed (the body before a tool changed it,
// the secret before a file added to it, the header before a proxy quoted it) and checks the
// signature against it under every secret, as the verifier does: the whole digest, in constant
// time. A hint says which rebuilt bytes and which secret (by place, never by value) matched;
// it never shows a signature, a digest, a secret or the header's value (a hostile sender's
// bytes: STYLE.md, "Error messages for people").
namespace tykhook {
namespace {

constexpr std::string_view white_space = " \t\r\n";
constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF";
constexpr std::size_t fingerprint_digits = 12;  // what fingerprint() returns

std::string secret_name(std::size_t index, std::size_t count) {
  return "secret " + std::to_string(index + 1) + " of " + std::to_string(count);
}

// Checks bodies against the secrets and names the one that signed.
class Signers {
 public:
  explicit Signers(const std::vector<Secret>& secrets)
      : verifier_(secrets), count_(secrets.size()) {}

  // "(under secret 1 of 2)" when `digest` is the HMAC of `body` under a secret.
  std::optional<std::string> under(std::string_view body, const Digest& digest) const {
    const auto index = verifier_.match(body, digest);
    if (!index) return std::nullopt;
    return "(under " + secret_name(*index, count_) + ")";
  }

 private:
  SignatureVerifier verifier_;
  std::size_t count_;
};

// ---- the body, changed byte by byte -------------------------------------------------------------

// "its final newline", "its final CRLF", "its 3 final line-end bytes".
std::string line_ends_name(std::string_view removed) {
  if (removed == "\n") return "its final newline";
  if (removed == "\r\n") return "its final CRLF";
  return "its " + std::to_string(removed.size()) + " final line-end bytes";
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  for (std::size_t at = 0;;) {
    const std::size_t found = text.find(from, at);
    out.append(text.substr(at, found - at));
    if (found == std::string_view::npos) return out;
    out.append(to);
    at = found + from.size();
  }
}

// The first byte-level change whose undoing the signature matches: line ends and a
// byte-order mark added after signing, line ends converted. Only the final newline unless
// `every_cause`.
std::optional<std::string> changed_bytes(std::string_view body, const Signers& signers,
                                         const Digest& digest, bool every_cause) {
  const auto end = body.find_last_not_of("\r\n");
  const std::string_view trimmed = body.substr(0, end == std::string_view::npos ? 0 : end + 1);
  const std::string ends = line_ends_name(body.substr(trimmed.size()));
  if (trimmed.size() != body.size()) {
    if (const auto under = signers.under(trimmed, digest)) {
      return "the signature matches the body without " + ends + " " + *under +
             ": one was added after signing (an editor's final newline?); remove it";
    }
  }
  if (!every_cause) return std::nullopt;

  if (body.starts_with(byte_order_mark)) {
    const std::string_view unmarked = body.substr(byte_order_mark.size());
    const std::string_view both = trimmed.substr(std::min(trimmed.size(), byte_order_mark.size()));
    const std::string mark =
        "the signature matches the body without the byte-order mark (EF BB "
        "BF) at its start ";
    if (const auto under = signers.under(unmarked, digest)) {
      return mark + *under +
             ": an editor or a tool added it after signing; save the body as UTF-8 without a BOM";
    }
    if (trimmed.size() != body.size()) {
      if (const auto under = signers.under(both, digest)) {
        return mark + "and without " + ends + " " + *under +
               ": an editor or a tool added them after signing; save the body as UTF-8 without "
               "a BOM and without a final newline";
      }
    }
  }
  const bool crlf = body.find("\r\n") != std::string_view::npos;
  if (crlf || body.find('\n') != std::string_view::npos) {
    const std::string converted =
        crlf ? replace_all(body, "\r\n", "\n") : replace_all(body, "\n", "\r\n");
    if (const auto under = signers.under(converted, digest)) {
      return std::string("the signature matches the body with its line ends as ") +
             (crlf ? "LF instead of CRLF " : "CRLF instead of LF ") + *under +
             ": an editor or a transfer in text mode converted them; keep the bytes as they "
             "arrived";
    }
  }
  return std::nullopt;
}

// A Content-Length that disagrees with the body: a capture that cut the body or padded it.
std::optional<std::string> content_length(const Request& request, const Signers& signers,
                                          const Digest& digest) {
  const auto values = request.header_values("Content-Length");
  if (values.size() != 1) return std::nullopt;
  const auto length = detail::parse_content_length(detail::trim(values.front()));
  const std::string_view body = request.body;
  if (!length || *length == body.size()) return std::nullopt;
  const std::string says = "Content-Length says " + std::to_string(*length) +
                           " bytes, and the body has " + std::to_string(body.size());
  if (*length < body.size()) {
    if (const auto under = signers.under(body.substr(0, *length), digest)) {
      return "the signature matches the first " + std::to_string(*length) + " bytes of the body " +
             *under + ": " + says +
             "; the capture added bytes after the body; keep as many as Content-Length says";
    }
    return says + ": the capture padded the body (and its first " + std::to_string(*length) +
           " bytes do not match either); capture the request as it arrived";
  }
  return says + ": the capture cut the body; capture the whole request";
}

// ---- the body, re-encoded ---------------------------------------------------------------------

// What `encoding` changes in a body that looks like `look`, e.g. "compact instead of
// pretty-printed, keys sorted by name".
std::string changes(const detail::JsonLook& look, const detail::JsonEncoding& encoding) {
  using detail::JsonLayout;
  std::vector<std::string> changed;
  const bool pretty = look.newlines;
  const bool compact = !look.newlines && !look.spaces;
  switch (encoding.layout) {
    case JsonLayout::compact:
      if (!compact) {
        changed.push_back(std::string("compact, as the portal writes it, instead of ") +
                          (pretty ? "pretty-printed" : "with spaces"));
      }
      break;
    case JsonLayout::spaced:
      if (pretty || compact) changed.push_back("on one line with a space after each , and :");
      break;
    case JsonLayout::indent2:
    case JsonLayout::indent4:
      if (!pretty) {
        changed.push_back(std::string("pretty-printed with ") +
                          (encoding.layout == JsonLayout::indent2 ? "2" : "4") + "-space indents");
      }
      break;
  }
  switch (encoding.order) {
    case detail::JsonKeyOrder::as_read:
      break;
    case detail::JsonKeyOrder::envelope_first:
      changed.push_back("Event, Message and Timestamp in the portal's order");
      break;
    case detail::JsonKeyOrder::sorted:
      changed.push_back("keys sorted by name");
      break;
  }
  if (encoding.escape_html && look.raw_html) {
    changed.push_back("<, > and & escaped as \\u003c, \\u003e and \\u0026, as Go writes them");
  }
  if (!encoding.escape_html && look.html_escapes) {
    changed.push_back("\\u003c, \\u003e and \\u0026 written as <, > and &");
  }
  if (encoding.escape_slash && look.raw_slashes) changed.push_back("/ escaped as \\/");
  if (!encoding.escape_slash && look.slash_escapes) changed.push_back("\\/ written as /");
  if (look.other_unicode_escapes) changed.push_back("other \\u escapes written as UTF-8");
  std::string text;
  for (const auto& change : changed) text += (text.empty() ? "" : "; ") + change;
  return text.empty() ? "in another form" : text;
}

// The body parsed and written again in each way a tool may have rewritten it.
// The caller keeps the body within ExplainOptions::max_reencoded_body: each encoding costs a
// copy and an HMAC per secret.
std::optional<std::string> reencoded(std::string_view body, const Signers& signers,
                                     const Digest& digest) {
  std::string_view json = body;
  if (json.starts_with(byte_order_mark)) json.remove_prefix(byte_order_mark.size());
  const auto last = json.find_last_not_of(white_space);
  json = json.substr(0, last == std::string_view::npos ? 0 : last + 1);
  const std::size_t trailing =
      body.size() - json.size() - (body.starts_with(byte_order_mark) ? byte_order_mark.size() : 0);
  const auto parsed = detail::parse_ordered(json);
  if (!parsed) return std::nullopt;
  const detail::JsonLook look = detail::look_of(json);

  std::set<std::string> tried{std::string(body)};
  for (const auto& encoding : detail::encodings_to_try()) {
    std::string bytes;
    try {
      bytes = detail::encode_json(*parsed, encoding);
    } catch (const nlohmann::json::exception&) {
      return std::nullopt;  // a hint is not worth a failure: the verdict stands without it
    }
    if (!tried.insert(bytes).second) continue;
    if (const auto under = signers.under(bytes, digest)) {
      std::string what = changes(look, encoding);
      if (body.starts_with(byte_order_mark)) what += "; without its byte-order mark";
      if (const std::string_view after = body.substr(body.size() - trailing); after == "\n") {
        what += "; without its final newline";
      } else if (!after.empty()) {
        what += "; without the white space after it";
      }
      return "the signature matches the body re-encoded (" + what + ") " + *under +
             ": a tool parsed the body and wrote it again after signing (a proxy, a logger, an "
             "editor); capture the exact bytes as they arrived, e.g. with listen --capture-dir";
    }
  }
  return std::nullopt;
}

// ---- the secrets ------------------------------------------------------------------------------

// Secrets with white space around them: a newline kept from a file or a variable.
void trimmed_secrets(const std::vector<Secret>& secrets, std::string_view body,
                     const Digest& digest, std::vector<std::string>& hints) {
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    const std::string_view bytes = secrets[i].bytes();
    const auto first = bytes.find_first_not_of(white_space);
    if (first == std::string_view::npos) continue;
    const std::string_view trimmed =
        bytes.substr(first, bytes.find_last_not_of(white_space) - first + 1);
    if (trimmed.size() == bytes.size()) continue;
    if (Signers({Secret(std::string(trimmed))}).under(body, digest)) {
      hints.push_back("the signature matches " + secret_name(i, secrets.size()) +
                      " without the white space around it (a newline in its file or variable?); "
                      "remove it from the secret");
    }
  }
}

// The other way round: the sender signed with a configured secret and a line end or a space
// after it (its secret came from a file or a variable that kept one).
void padded_secrets(const std::vector<Secret>& secrets, std::string_view body, const Digest& digest,
                    std::vector<std::string>& hints) {
  constexpr std::pair<std::string_view, std::string_view> paddings[] = {
      {"\n", "a newline"}, {"\r\n", "a CRLF"}, {" ", "a space"}};
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    const std::string_view bytes = secrets[i].bytes();
    for (const auto& [padding, named] : paddings) {
      if (!Signers({Secret(std::string(bytes) + std::string(padding))}).under(body, digest)) {
        continue;
      }
      hints.push_back("the signature matches " + secret_name(i, secrets.size()) + " with " +
                      std::string(named) +
                      " after it: the sender's secret has one (a newline in its file or "
                      "variable?); remove it where the portal's secret is set");
      break;
    }
  }
}

bool fingerprint_shaped(std::string_view bytes) {
  if (bytes.size() != fingerprint_digits) return false;
  for (const char c : bytes) {
    if (detail::hex_value(c) < 0) return false;
  }
  return true;
}

// A secret that is 12 hex digits: what `tykhook secret fingerprint` prints, copied in its place.
void fingerprint_secrets(const std::vector<Secret>& secrets, std::vector<std::string>& hints) {
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    std::string bytes(secrets[i].bytes());
    if (!fingerprint_shaped(bytes)) continue;
    for (char& c : bytes) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    std::optional<std::size_t> of;
    for (std::size_t j = 0; j < secrets.size() && !of; ++j) {
      if (j != i && fingerprint(secrets[j]) == bytes) of = j;
    }
    const std::string name = secret_name(i, secrets.size());
    hints.push_back(
        of ? name + " is the fingerprint of " + secret_name(*of, secrets.size()) +
                 ", not a secret: you may have copied the fingerprint instead of the secret; give "
                 "the secret itself"
           : name +
                 " has the shape of a fingerprint (12 hex digits, as tykhook secret "
                 "fingerprint prints): you may have copied the fingerprint instead of the "
                 "secret; give the secret itself");
  }
}

// ---- the header ---------------------------------------------------------------------------------

// Why a header that cannot be read may still carry the signature: several headers, quotes, a
// prefix other than sha256=, base64, or a value cut short.
std::optional<std::string> header_cause(const std::vector<std::string_view>& values,
                                        std::string_view body, const Signers& signers) {
  const std::string header(signature_header);
  if (values.size() > 1) {
    for (std::size_t k = 0; k < values.size(); ++k) {
      const auto digest = parse_signature_header(values[k]);
      if (!digest) continue;
      if (const auto under = signers.under(body, *digest)) {
        return header + " appears " + std::to_string(values.size()) + " times, and value " +
               std::to_string(k + 1) + " matches the body " + *under +
               ": something on the way added the others (a proxy?); send the header once";
      }
    }
    return header + " appears " + std::to_string(values.size()) +
           " times, and no value matches the body; send the header once";
  }
  const std::string_view value = detail::trim(values.front());
  const auto fits = [&](std::string_view inner, const std::string& shape,
                        const std::string& fix) -> std::optional<std::string> {
    const auto digest = parse_signature_header(inner);
    if (!digest) return std::nullopt;
    if (const auto under = signers.under(body, *digest)) {
      return header + "'s value is " + shape + ", and the signature in it matches the body " +
             *under + ": " + fix;
    }
    return header + "'s value is " + shape +
           ", and the signature in it does not match the body either: " + fix +
           ", then see what verify says";
  };
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    if (auto hint = fits(value.substr(1, value.size() - 2), "in quotes",
                         "remove the quotes where the header is set")) {
      return hint;
    }
  }
  const auto separator = value.find_first_of("=:");
  if (separator != std::string_view::npos && separator > 0 && separator <= 32) {
    if (auto hint = fits(value.substr(separator + 1),
                         "a signature after a prefix of " + std::to_string(separator + 1) +
                             " bytes that is not sha256=",
                         "send sha256=<hex> or the hex alone")) {
      return hint;
    }
  }
  if (const auto decoded = detail::decode_base64(value); decoded && decoded->size() == 32) {
    Digest digest{};
    std::copy(decoded->begin(), decoded->end(), digest.begin());
    if (const auto under = signers.under(body, digest)) {
      return header + "'s value is the signature in base64, not hex, and it matches the body " +
             *under + ": send it as 64 hex digits";
    }
    return header +
           "'s value is 32 bytes in base64, not hex, and they do not match the body "
           "either; the portal sends 64 hex digits";
  }
  std::string_view digits = value;
  if (digits.size() >= 7 && header_name_equals(digits.substr(0, 7), "sha256=")) {
    digits.remove_prefix(7);
  }
  if (!digits.empty() && digits.size() < 64 &&
      digits.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos) {
    // Not compared with the signature: a prefix that matches would give the signature away
    // digit by digit.
    return header + "'s value has " + std::to_string(digits.size()) +
           " hex digits, fewer than 64: it was cut (a log line's or a terminal's width?); take "
           "the whole value from the request as it arrived";
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> explain_mismatch(const Request& request,
                                          const std::vector<Secret>& secrets,
                                          const ExplainOptions& options) {
  const auto values = request.header_values(signature_header);
  if (values.empty() || secrets.empty()) return {};
  const Signers signers(secrets);
  const std::string_view body = request.body;
  std::vector<std::string> hints;

  const auto digest = values.size() == 1 ? parse_signature_header(values.front())
                                         : Parsed<Digest>::failure("several headers");
  if (!digest) {
    if (!options.every_cause) return {};
    if (auto cause = header_cause(values, body, signers)) {
      hints.push_back(std::move(*cause));
    } else {
      hints.push_back("no likely cause found: the value of " + std::string(signature_header) +
                      " is not a signature that was quoted, prefixed, cut or written in base64; "
                      "the error above says what is wrong with it");
    }
    return hints;
  }

  auto body_cause = changed_bytes(body, signers, *digest, options.every_cause);
  std::optional<std::string> skipped;
  if (options.every_cause && !body_cause) body_cause = content_length(request, signers, *digest);
  if (options.every_cause && !body_cause && body.size() > options.max_reencoded_body) {
    skipped = "the body has " + std::to_string(body.size()) + " bytes, over the " +
              std::to_string(options.max_reencoded_body) +
              " that are re-encoded: whether it was pretty-printed, reordered or re-escaped "
              "after signing was not tested";
  } else if (options.every_cause && !body_cause) {
    body_cause = reencoded(body, signers, *digest);
  }
  if (body_cause) hints.push_back(std::move(*body_cause));
  trimmed_secrets(secrets, body, *digest, hints);
  padded_secrets(secrets, body, *digest, hints);
  if (!options.every_cause) return hints;

  fingerprint_secrets(secrets, hints);
  if (hints.empty()) {
    hints.push_back(
        "no likely cause found: the body is not the signed one with a newline, a byte-order "
        "mark or bytes added, its line ends converted, or its JSON re-encoded, and no secret "
        "with white space (here or at the sender) or in a fingerprint's place explains it; check "
        "that a configured secret is the portal's current one (compare fingerprints: tykhook "
        "secret fingerprint), and that the capture holds the bytes as they arrived");
  }
  if (skipped) hints.push_back(std::move(*skipped));
  return hints;
}

}  // namespace tykhook
