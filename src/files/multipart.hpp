// A strict parser for multipart/form-data request bodies (RFC 7578 over RFC 2046), the
// format browsers and the merchant app use to upload photos.
//
// Strict means: the body starts with the first boundary (no preamble), every line ends in
// CRLF, each part has a Content-Disposition: form-data header with a name, headers are
// not folded, and only an optional CRLF may follow the closing boundary. Parameter values
// in quotes are taken literally up to the next quote (browsers percent-encode a quote in a
// name and never use backslash escapes; a Windows path such as C:\a\b.jpg must survive).
// Unknown part headers are ignored, as RFC 7578 asks.
//
// Pure function, safe from any thread. The parts copy their data out of the body.
// Failure: kMalformed "malformed_multipart" (the message says what is wrong), or kTooLarge
// "too_many_parts" when the body holds more than max_parts parts. The caller has already
// bounded the body size.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace mingchu::files {

struct MultipartPart {
  std::string name;          // the form field's name (valid UTF-8, no control characters)
  std::string filename;      // display name only, reduced by sanitize_filename; "" if none
  bool is_file = false;      // the part had a filename parameter (even an empty one)
  std::string content_type;  // as sent, "" when absent; never trusted for type decisions
  std::string data;
};

// content_type_header: the request's Content-Type, e.g.
// "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW" (boundary quoted
// or not, 1-70 characters of RFC 2046's bchars).
Result<std::vector<MultipartPart>> parse_multipart(std::string_view content_type_header, std::string_view body,
                                                   size_t max_parts);

// The last path component of a client's file name with "..", '/', '\\', control
// characters, bidirectional-override characters and invalid UTF-8 removed, cut to at most
// 255 bytes on a character boundary. May be empty.
std::string sanitize_filename(std::string_view raw);

}  // namespace mingchu::files
