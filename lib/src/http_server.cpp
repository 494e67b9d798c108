#include "http_server.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace tykhook::detail {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The connection whose request the engine is processing on this thread: its callbacks get the
// engine's view of the request only.
thread_local Connection* current_connection = nullptr;

// Puts `answer` into the engine's response, and what it says into the connection's record.
void apply(Connection& connection, Answer answer, httplib::Response& res) {
  if (answer.close) connection.close_after = true;
  res.status = answer.response.status;
  for (const auto& header : answer.response.headers) res.set_header(header.name, header.value);
  if (!answer.response.content_type.empty()) {
    res.set_content(std::move(answer.response.body), answer.response.content_type);
  }
  if (answer.outcome) {
    connection.record.status = answer.record.status;
    connection.record.verdict = std::move(answer.record.verdict);
    connection.record.event = std::move(answer.record.event);
    connection.record.secret_index = answer.record.secret_index;
    connection.record.secret_fingerprint = std::move(answer.record.secret_fingerprint);
    connection.outcome = answer.outcome;
    connection.event = answer.event;
    connection.errors = std::move(answer.errors);
    connection.details = std::move(answer.details);
  }
  if (!answer.record.error.empty()) connection.record.error = std::move(answer.record.error);
}

// apply(), and tells the client when the connection closes after this response.
void respond(Connection& connection, Answer answer, httplib::Response& res) {
  apply(connection, std::move(answer), res);
  if (connection.close_after && !connection.last_request) res.set_header("Connection", "close");
}

// The checks before the body; nullopt when the delivery was refused (its answer is in `res`).
std::optional<BodyFraming> check_before_body(const Responder& responder, Connection& connection,
                                             httplib::Response& res) {
  if (!connection.head || !*connection.head) {
    respond(
        connection,
        refusal(400, VerdictKind::malformed_request,
                connection.head ? connection.head->error : "request: the head could not be read"),
        res);
    return std::nullopt;
  }
  HeadCheck check = responder.check_head(**connection.head);
  if (check.refusal) {
    respond(connection, std::move(*check.refusal), res);
    return std::nullopt;
  }
  return check.framing;
}

/// The engine's reason phrases, for the statuses that a delivery's answer has.
std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

// What a failure while writing a response leaves: the engine catches what routing throws.
void failed_writing(Connection& connection, const std::exception& failure) {
  connection.record.error = std::string("internal error: ") + failure.what();
  connection.close_after = true;
}

}  // namespace

HttpServer::HttpServer(Responder& responder, ReceiverMetrics& metrics,
                       std::function<bool()> stopping)
    : responder_(responder),
      metrics_(metrics),
      stopping_(std::move(stopping)),
      options_(responder.options()) {
  configure_engine();
}

void HttpServer::configure_engine() {
  // A body is read only by on_delivery, which enforces max_body itself (chunked bodies too);
  // this limit covers whatever else the engine might read.
  engine_.set_payload_max_length(options_.verifier.max_body);
  // The engine writes these values into Keep-Alive response headers.
  const long long keep_alive_seconds =
      std::max<long long>(1, (options_.keep_alive_timeout.count() + 999) / 1000);
  engine_.set_keep_alive_max_count(options_.keep_alive_max_requests);
  engine_.set_keep_alive_timeout(static_cast<time_t>(keep_alive_seconds));
  keep_alive_value_ = "timeout=" + std::to_string(keep_alive_seconds) +
                      ", max=" + std::to_string(options_.keep_alive_max_requests);
  engine_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return on_request_head(req, res);
  });
  engine_.set_expect_100_continue_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        return on_expect_continue(req, res);
      });
  const httplib::Server::HandlerWithContentReader delivery =
      [this](const httplib::Request& /*req: the raw head is used*/, httplib::Response& res,
             const httplib::ContentReader& reader) { on_delivery(res, reader); };
  engine_.Post(".*", delivery);
  engine_.Put(".*", delivery);
  engine_.Patch(".*", delivery);
  engine_.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) { return on_error(req, res); }));
  engine_.set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
        on_exception(req, res, std::move(error));
      });
  engine_.set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) { on_written(req, res); });
  setup_request_ = [](httplib::Request& req) {
    // Ranges apply to files; a delivery's answer is never cut into parts.
    req.ranges.clear();
    if (current_connection != nullptr) current_connection->end_head();
  };
}

// ---- serving a connection -----------------------------------------------------------------------

bool HttpServer::serve(Connection& connection) {
  current_connection = &connection;
  bool keep = false;
  switch (std::exchange(connection.pending, Connection::Pending::none)) {
    case Connection::Pending::none:
      keep = serve_requests(connection);
      break;
    case Connection::Pending::send:
      keep = end_request(connection, true, false, false) &&
             (!connection.has_buffered_input() || serve_requests(connection));
      break;
    case Connection::Pending::close:
      break;
  }
  current_connection = nullptr;
  return keep;
}

bool HttpServer::serve_requests(Connection& connection) {
  for (;;) {
    const bool last = connection.served + 1 >= options_.keep_alive_max_requests || stopping_();
    connection.begin_request(last);
    bool client_closes = false;
    bool answered = false;
    try {
      answered = (!last && serve_directly(connection)) ||
                 engine_.process_request(connection, last, client_closes, setup_request_);
    } catch (const std::exception& failure) {
      failed_writing(connection, failure);
    }
    if (!end_request(connection, answered, client_closes, last)) return false;
    // A request sent right behind the last one is already read: epoll would not report it.
    if (!connection.has_buffered_input()) return true;
  }
}

bool HttpServer::serve_without_waiting(Connection& connection) {
  current_connection = &connection;
  connection.on_event_loop = true;
  bool handled = false;
  for (;;) {
    if (connection.served + 1 >= options_.keep_alive_max_requests || stopping_()) break;
    connection.begin_request(false);
    bool answered = false;
    try {
      if (!serve_directly(connection)) break;
      answered = true;
    } catch (const std::exception& failure) {
      failed_writing(connection, failure);
    }
    if (connection.send_now() == Connection::Sent::partly) {
      connection.pending = Connection::Pending::send;
      break;
    }
    if (!end_request(connection, answered, false, false)) {
      connection.pending = Connection::Pending::close;
      break;
    }
    if (!connection.has_buffered_input()) {
      handled = true;
      break;
    }
  }
  connection.on_event_loop = false;
  current_connection = nullptr;
  return handled;
}

/// Ends the request just answered on `connection`: sends the rest of its response, counts and
/// logs it. Returns whether the connection stays open for another request.
bool HttpServer::end_request(Connection& connection, bool answered, bool client_closes, bool last) {
  connection.flush();
  finish(connection);
  ++connection.served;
  return answered && !client_closes && !last && !connection.close_after;
}

/// Serves the request at the front of the connection itself when it is a plain delivery that
/// has arrived whole (detail::plain_delivery): it takes the same steps (on_delivery) and gets
/// the same bytes back as through the engine, whose request step costs as much CPU as the whole
/// verification. Anything else returns false having consumed nothing, and the engine serves it.
bool HttpServer::serve_directly(Connection& connection) {
  std::optional<PlainDelivery> plain =
      plain_delivery(connection.peek(), options_.max_header_bytes, options_.max_headers);
  if (!plain || responder_.inspects(plain->head.target)) return false;
  const std::size_t body_size = plain->body_size;
  httplib::Request req;  // what on_error, on_exception and on_written read of it
  req.method = plain->head.method;
  req.target = plain->head.target;
  req.version = "HTTP/1.1";
  connection.take_head(plain->head_size, Parsed<Head>{std::move(plain->head), {}});
  httplib::Response res;
  const httplib::ContentReader reader(
      [&](const httplib::ContentReceiver& receive) {
        const std::string_view body = connection.take(body_size);
        return body.empty() || receive(body.data(), body.size());
      },
      [](const httplib::MultipartContentHeader&, const httplib::ContentReceiver&) {
        return false;
      });
  try {
    on_delivery(res, reader);
  } catch (...) {
    on_exception(req, res, std::current_exception());
  }
  write_directly(connection, req, res);
  return true;
}

/// Writes `res` as the engine writes the answer to a request on a connection that stays open
/// (serve_directly leaves the last request of a connection to the engine).
void HttpServer::write_directly(Connection& connection, const httplib::Request& req,
                                httplib::Response& res) {
  if (res.status == -1) res.status = 200;
  if (res.status >= 400) on_error(req, res);
  res.set_header("Keep-Alive", keep_alive_value_);
  if (!res.has_header("Content-Type") && !res.body.empty()) {
    res.set_header("Content-Type", "text/plain");
  }
  res.set_header("Content-Length", std::to_string(res.body.size()));
  std::string out = "HTTP/1.1 ";
  out.append(std::to_string(res.status)).append(" ").append(reason_phrase(res.status));
  out.append("\r\n");
  for (const auto& [name, value] : res.headers)
    out.append(name).append(": ").append(value).append("\r\n");
  out.append("\r\n").append(res.body);
  connection.write(out.data(), out.size());
  on_written(req, res);
}

/// Counts and logs the request just answered (or abandoned) on `connection`.
void HttpServer::finish(Connection& connection) {
  RequestRecord& record = connection.record;
  if (!connection.written && record.status == 0) return;  // nothing was read, nothing answered
  if (!connection.written && record.error.empty()) {
    record.error = "the client left before the response was written";
  }
  record.duration = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() -
                                                                          connection.started);
  metrics_.count_response(record.status);
  if (connection.outcome) {
    metrics_.count_delivery(connection.event, record.event.has_value(), *connection.outcome,
                            record.duration);
  }
  if (options_.on_request) {
    try {
      options_.on_request(record);
    } catch (...) {
      // A logger that fails must not take the connection's thread down with it.
    }
  }
  if (connection.outcome) {
    responder_.inspect(record, connection.head, std::move(connection.errors),
                       std::move(connection.details));
  }
}

// ---- the engine's callbacks ---------------------------------------------------------------------

httplib::Server::HandlerResponse HttpServer::on_request_head(const httplib::Request& req,
                                                             httplib::Response& res) {
  using httplib::Server;
  Connection& connection = *current_connection;
  if (is_delivery_method(req.method) && !responder_.inspects(req.target)) {
    return Server::HandlerResponse::Unhandled;
  }
  if (!connection.head || !*connection.head) {
    connection.close_after = true;
    apply(connection,
          error_answer(400, connection.head ? connection.head->error : "request: unreadable"), res);
    return Server::HandlerResponse::Handled;
  }
  const TimePoint now = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  respond(connection, responder_.answer(**connection.head, {}, now), res);
  return Server::HandlerResponse::Handled;
}

int HttpServer::on_expect_continue(const httplib::Request& req, httplib::Response& res) {
  // A client that waits for "100 Continue" learns of a refusal before it sends the body.
  if (!is_delivery_method(req.method) || responder_.inspects(req.target)) return 100;
  return check_before_body(responder_, *current_connection, res) ? 100 : res.status;
}

void HttpServer::on_delivery(httplib::Response& res, const httplib::ContentReader& reader) {
  Connection& connection = *current_connection;
  const std::optional<BodyFraming> framing = check_before_body(responder_, connection, res);
  if (!framing) return;

  std::string body;
  if (framing->chunked || framing->content_length) {
    if (framing->content_length) body.reserve(*framing->content_length);
    bool over = false;
    const std::size_t max_body = options_.verifier.max_body;
    const bool complete = reader([&](const char* data, std::size_t size) {
      if (size > max_body - body.size()) {
        over = true;
        return false;
      }
      body.append(data, size);
      return true;
    });
    if (over) {
      respond(connection,
              refusal(413, VerdictKind::too_large,
                      "body: over the limit of " + std::to_string(max_body) +
                          " bytes; raise the body limit (--max-body) if this delivery is real"),
              res);
      return;
    }
    if (!complete) {
      respond(connection,
              refusal(400, VerdictKind::malformed_request,
                      connection.timed_out
                          ? "body: not received within the read timeout of " +
                                std::to_string(options_.read_timeout.count()) +
                                " ms; send the request at once"
                          : "body: incomplete or badly framed; send Content-Length bytes, or "
                            "valid chunks"),
              res);
      return;
    }
  }
  const TimePoint now = std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now());
  // The head passed its checks above: they are not run twice.
  respond(connection, responder_.answer_delivery(**connection.head, std::move(body), now), res);
}

httplib::Server::HandlerResponse HttpServer::on_error(const httplib::Request& req,
                                                      httplib::Response& res) {
  // Responses that the receiver wrote itself are complete; this fills in the engine's own
  // refusals (a head that could not be parsed, or over the limits).
  if (res.has_header("X-Tykhook-Verdict") || !res.body.empty()) {
    return httplib::Server::HandlerResponse::Unhandled;
  }
  Connection* connection = current_connection;
  std::string error = "request: cannot be parsed as HTTP/1.1; check the request line and headers";
  if (connection != nullptr) {
    connection->close_after = true;
    if (connection->head_too_large) {
      error = "headers: over " + std::to_string(options_.max_header_bytes) + " bytes or " +
              std::to_string(options_.max_headers) + " lines; send fewer headers";
    } else if (connection->timed_out) {
      error = "headers: not received within the read timeout of " +
              std::to_string(options_.read_timeout.count()) + " ms; send the request at once";
    } else if (res.status == 414) {
      error = "request line: the target is too long; shorten the URL";
    }
  }
  if (is_delivery_method(req.method) && connection != nullptr) {
    const bool too_large = res.status == 413;
    respond(*connection,
            delivery_answer(too_large ? 413 : 400,
                            too_large ? VerdictKind::too_large : VerdictKind::malformed_request,
                            std::nullopt, std::nullopt, {std::move(error)}),
            res);
  } else {
    res.set_content(nlohmann::ordered_json{{"error", error}}.dump(), "application/json");
  }
  return httplib::Server::HandlerResponse::Handled;
}

void HttpServer::on_exception(const httplib::Request& req, httplib::Response& res,
                              std::exception_ptr error) {
  std::string what = "an exception that is not a std::exception";
  try {
    std::rethrow_exception(std::move(error));
  } catch (const std::exception& failure) {
    what = failure.what();
  } catch (...) {
  }
  Connection* connection = current_connection;
  if (connection == nullptr) {
    res.status = 500;
    return;
  }
  connection->close_after = true;
  connection->record.error = "internal error: " + what;
  if (is_delivery_method(req.method)) {
    respond(*connection,
            delivery_answer(500, ReceiverOutcome::error, std::nullopt, std::nullopt,
                            {"internal error; the delivery was not processed, send it again"}),
            res);
  } else {
    res.status = 500;
    res.set_content(R"({"error":"internal error"})", "application/json");
  }
}

void HttpServer::on_written(const httplib::Request& req, const httplib::Response& res) {
  Connection* connection = current_connection;
  if (connection == nullptr) return;
  connection->written = true;
  connection->record.status = res.status;
  if (connection->record.method.empty()) {
    connection->record.method = req.method;
    connection->record.path = req.path;
  }
}

}  // namespace tykhook::detail
