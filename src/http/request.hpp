// The HTTP request and response as the rest of the program sees them: plain structs, no
// Boost.Beast types, so handlers compile fast and are tested without sockets.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.hpp"
#include "core/result.hpp"

namespace mingchu::http {

struct Request {
  std::string method;
  std::string target;  // as received
  std::string path;    // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;    // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string remote;      // the client: the peer, or what a trusted proxy's X-Forwarded-For names
  std::string peer;        // the address the connection came from
  std::string request_id;  // X-Request-Id or generated
  std::map<std::string, std::string, std::less<>> params;  // from the route pattern
  bool internal = false;   // made by the server itself (an export paging through a list), never from the wire
  // Who the request was authenticated as, set by authenticate() (mutable: authentication reads
  // a const request), for the audit of refused requests. Empty when nobody was.
  mutable std::string actor_id, actor, actor_role;

  std::optional<std::string> header(std::string_view lower_name) const;
  std::optional<std::string> query_param(std::string_view name) const;
  std::string param(std::string_view name) const;
};

// A stream of Server-Sent Events. The server polls next() and writes what it returns;
// nullopt with closed() true ends the response. Implementations are thread safe.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Waits up to `wait` for the next event text (already formatted as SSE lines).
  virtual std::optional<std::string> next(std::chrono::milliseconds wait) = 0;
  virtual bool closed() const = 0;
  // A stream of other bytes (HTTP-FLV video) says its type, sends no keep-alive comments and
  // is polled more often.
  virtual std::string content_type() const { return "text/event-stream; charset=utf-8"; }
  virtual bool sse() const { return true; }
  virtual std::chrono::milliseconds poll() const { return std::chrono::milliseconds(100); }
};

// A response body produced while it is sent (exports of long lists): the server writes each
// piece read() hands over as one HTTP chunk. Implementations are thread safe; read() never
// blocks for long (the caller is an I/O thread).
class BodySource {
 public:
  virtual ~BodySource() = default;
  // The next piece: non-empty text; "" when nothing is ready yet (ask again shortly); nullopt
  // at the end of the body.
  virtual std::optional<std::string> read() = 0;
  // True when the body ended in an error: the server then drops the connection instead of
  // ending the chunked body, so the client sees a truncated download, never a short file.
  virtual bool failed() const = 0;
  // The client went away (or the server stops): the producer stops and releases what it holds.
  virtual void cancel() = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is this event stream (text/event-stream). Shared with the hub that
  // feeds it: the hub and the connection both outlive each other in either order.
  std::shared_ptr<EventStream> stream;
  // When set, the body is produced by this source while it is sent (chunked), with
  // content_type and headers as given. Shared: the producer's thread may outlive the connection.
  std::shared_ptr<BodySource> source;
  // When set, the response is this function's result, computed on the connection's own
  // thread: an async handler completed on a busy thread (the ingest writer) hands over the
  // serialising of its body instead of doing it there.
  std::function<Response()> finish;

  static Response json(int status, const json::value& v);
  static Response later(std::function<Response()> make) {
    Response r;
    r.finish = std::move(make);
    return r;
  }
  static Response no_content();
  static Response error(const Error& e);
  static Response error(int status, std::string code, std::string message);
};

// Builds `{"error": {"code", "message", "field"?}}`.
json::object error_body(const Error& e);

using Handler = std::function<Response(Request&)>;
// An async handler calls `done` exactly once, from any thread.
using AsyncHandler = std::function<void(Request&, std::function<void(Response)> done)>;

std::string percent_decode(std::string_view s, bool plus_as_space);
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q);

}  // namespace mingchu::http
