#include "loopback.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <regex>

#include "wait.h"

namespace tykhook::test {
namespace {

using namespace std::chrono_literals;

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// An IPv4 address as /proc/net/tcp spells it: the address as the kernel stores it, then the
// port, both in hexadecimal.
std::string proc_net_address(const sockaddr_in& address) {
  char text[16];
  std::snprintf(text, sizeof text, "%08X:%04X", static_cast<unsigned>(address.sin_addr.s_addr),
                static_cast<unsigned>(ntohs(address.sin_port)));
  return text;
}

}  // namespace

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in address = loopback(port);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in address = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), length);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string local_address(int fd) {
  sockaddr_in local{};
  socklen_t length = sizeof local;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0);
  return "127.0.0.1:" + std::to_string(ntohs(local.sin_port));
}

bool read_by_peer(int fd) {
  sockaddr_in local{}, peer{};
  socklen_t length = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return false;
  length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return false;
  // The server's end of the connection: its local address is our peer, its remote one us.
  const std::string server_end = proc_net_address(peer) + " " + proc_net_address(local);
  std::ifstream table("/proc/net/tcp");
  for (std::string line; std::getline(table, line);) {
    const auto at = line.find(server_end);
    if (at == std::string::npos) continue;
    // "local remote state tx_queue:rx_queue ...": rx_queue counts the bytes not yet read.
    const auto queues = line.find(' ', at + server_end.size() + 1);
    const auto colon = line.find(':', queues);
    if (queues == std::string::npos || colon == std::string::npos) return false;
    return std::strtoul(line.c_str() + colon + 1, nullptr, 16) == 0;
  }
  return false;
}

bool receive_more(int fd, std::string& text, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  pollfd fds = {fd, POLLIN, 0};
  if (left.count() <= 0 || ::poll(&fds, 1, static_cast<int>(left.count())) <= 0) return false;
  char buffer[65536];
  const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  if (n <= 0) return false;
  text.append(buffer, static_cast<std::size_t>(n));
  return true;
}

std::string read_until_closed(int fd, std::chrono::milliseconds timeout) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (receive_more(fd, text, deadline)) {
  }
  return text;
}

std::string exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  const int fd = connect_to(port);
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string text = read_until_closed(fd, timeout);
  ::close(fd);
  return text;
}

std::vector<std::string> read_responses(int fd, std::size_t count) {
  std::vector<std::string> responses;
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (responses.size() < count) {
    const auto end = text.find("\r\n\r\n");
    if (end != std::string::npos) {
      const std::string length = header_of(text.substr(0, end + 2), "Content-Length");
      const std::size_t size = end + 4 + std::stoull(length.empty() ? "0" : length);
      if (text.size() >= size) {
        responses.push_back(text.substr(0, size));
        text.erase(0, size);
        continue;
      }
    }
    if (!receive_more(fd, text, deadline)) break;
  }
  return responses;
}

std::string read_response(int fd) {
  const auto responses = read_responses(fd, 1);
  return responses.empty() ? "" : responses.front();
}

std::string send_request(int port, const std::string& request, bool in_parts, std::string* client) {
  const int fd = connect_to(port);
  if (client != nullptr) *client = local_address(fd);
  const std::size_t cut = in_parts ? request.find("\r\n\r\n") + 4 : request.size();
  ::send(fd, request.data(), cut, MSG_NOSIGNAL);
  if (in_parts) {
    wait_until("the server to read the head of the request alone",
               [fd] { return read_by_peer(fd); });
    ::send(fd, request.data() + cut, request.size() - cut, MSG_NOSIGNAL);
  }
  std::string response = read_response(fd);
  ::close(fd);
  return response;
}

int status_of(const std::string& response) {
  return response.starts_with("HTTP/1.1 ") ? std::atoi(response.c_str() + 9) : 0;
}

std::string header_of(const std::string& response, const std::string& name) {
  const std::regex pattern("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase);
  std::smatch match;
  return std::regex_search(response, match, pattern) ? match[1].str() : "";
}

std::string body_of(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

}  // namespace tykhook::test
