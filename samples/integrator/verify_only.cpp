// Verification alone, for a service that has its own HTTP server: hand each webhook request's
// method, headers and body to a tykhook::Verifier and act on the verdict.
//   verify_only [CAPTURE]    a raw HTTP request as your server received it (default: stdin)
// The secret comes from PORTAL_WEBHOOKS_SECRET. Prints the verdict; exit status 0 when ok.
#include <tykhook/capture.h>
#include <tykhook/schema.h>
#include <tykhook/verifier.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

// What your server's webhook route would call: its request, in tykhook's terms.
tykhook::Verdict check_webhook(const tykhook::Verifier& verifier, std::string method,
                               std::vector<tykhook::Header> headers, std::string body) {
  tykhook::Request request{
      .method = std::move(method), .headers = std::move(headers), .body = std::move(body)};
  return verifier.verify(request, tykhook::Clock::now());
}

int main(int argc, char** argv) {
  const char* secret = std::getenv("PORTAL_WEBHOOKS_SECRET");
  if (secret == nullptr || *secret == '\0') {
    std::cerr << "verify_only: PORTAL_WEBHOOKS_SECRET is not set; export the portal's secret\n";
    return 2;
  }
  tykhook::VerifierOptions options;
  options.secrets.emplace_back(secret);
  options.tolerance = std::chrono::minutes(5);
  options.schemas = tykhook::SchemaRegistry::embedded();
  const tykhook::Verifier verifier(std::move(options));

  // Here the request comes from a capture file; in your server, from its request object.
  std::ifstream file;
  if (argc > 1) file.open(argv[1], std::ios::binary);
  std::istream& input = argc > 1 ? file : std::cin;
  const std::string text{std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>()};
  if (argc > 1 && !file) {
    std::cerr << "verify_only: " << argv[1] << ": cannot read\n";
    return 2;
  }
  const auto captures = tykhook::read_captures(text, argc > 1 ? argv[1] : "-");
  if (captures.empty() || !captures.front().request) {
    std::cout << "malformed_request: "
              << (captures.empty() ? "no request" : captures.front().request.error) << '\n';
    return 1;
  }
  const tykhook::Request& received = *captures.front().request;
  const tykhook::Verdict verdict =
      check_webhook(verifier, received.method, received.headers, received.body);

  std::cout << to_string(verdict.kind);
  if (verdict.event_name) std::cout << " (" << *verdict.event_name << ")";
  if (!verdict.errors.empty()) std::cout << ": " << verdict.errors.front();
  std::cout << '\n';
  if (verdict.ok() && verdict.event == tykhook::Event::UserRegistered) {
    std::cout << "new user: " << verdict.envelope->message.value("Email", "") << '\n';
  }
  return verdict.ok() ? 0 : 1;
}
