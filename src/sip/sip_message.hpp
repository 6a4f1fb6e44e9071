// GB/T 28181 wire formats (no I/O here): SIP messages parsed with libosip2's parser, MD5 digest
// authentication (RFC 2617 as GB/T 28181 uses it), MANSCDP XML bodies, RTP headers and RFC 4571
// framing, the MPEG-2 program stream (PS) demuxer and the 8-byte PTZ command.
//
// Threads: every function is safe from any thread (sip_init() once first; it is idempotent).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace mingchu::sip {

constexpr size_t kMaxMessageBytes = 60 * 1024;  // larger SIP messages are dropped (counted)

void sip_init();

struct DigestCredentials {
  std::string username, realm, nonce, uri, response, algorithm, qop, nc, cnonce;
};

// What the platform needs of one SIP message (request or response).
struct SipMessage {
  bool request = false;
  std::string method;  // requests: REGISTER, MESSAGE, ...; responses: empty
  int status = 0;      // responses
  std::string reason;
  std::string request_uri;  // requests
  std::string call_id;
  std::uint32_t cseq = 0;
  std::string cseq_method;
  std::vector<std::string> vias;  // each Via value, in order
  std::string branch;             // of the top Via
  std::string from, to;           // whole header values
  std::string from_user, from_host, from_tag, to_user, to_tag;
  std::string contact;          // header value (may be empty)
  std::optional<long> expires;  // the Expires header
  std::string content_type;     // lower case, e.g. "application/manscdp+xml"
  std::string subject;
  std::string body;
  std::optional<DigestCredentials> auth;
  std::string www_nonce, www_realm;  // responses carrying WWW-Authenticate
};

// Parses one SIP message; an error (code "bad_sip") for anything libosip2 refuses or that lacks
// Call-ID, CSeq, From, To or Via.
Result<SipMessage> parse_sip(std::string_view data);

// A response to req: its Via, From, Call-ID and CSeq, To with to_tag added when it has none.
std::string build_response(const SipMessage& req, int status, std::string_view reason, std::string_view to_tag,
                           const std::vector<std::pair<std::string, std::string>>& headers = {},
                           std::string_view content_type = {}, std::string_view body = {});

// Where a stream-oriented SIP message ends (Content-Length after the blank line): its length,
// 0 when more bytes are needed, -1 when the head is malformed or too large.
long sip_frame_length(std::string_view buf);

// ---- digest (RFC 2617, MD5)
std::string md5_hex(std::string_view s);
std::string digest_response(const DigestCredentials& c, std::string_view method, std::string_view password);

}  // namespace mingchu::sip
