#include "files/multipart.hpp"

#include <cstdint>
#include <map>
#include <optional>

namespace mingchu::files {
namespace {

constexpr size_t kMaxBoundary = 70;
constexpr size_t kMaxHeaderBlock = 8 * 1024;  // all header lines of one part
constexpr size_t kMaxHeaders = 16;
constexpr size_t kMaxNameBytes = 1024;
constexpr size_t kMaxFilenameBytes = 255;

Error malformed(const std::string& why) {
  return Error::malformed("malformed_multipart", "malformed multipart/form-data body: " + why);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 2046 bcharsnospace, plus space (checked separately: not as the last character).
bool is_bchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

void skip_ows(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

size_t scan_token(std::string_view s, size_t i) {
  while (i < s.size() && is_tchar(s[i])) ++i;
  return i;
}

// One decoded code point: its value and byte length, or nullopt for an invalid sequence
// (overlong forms, surrogates and values above U+10FFFF are invalid).
struct CodePoint {
  std::uint32_t value;
  size_t length;
};

std::optional<CodePoint> decode_utf8(std::string_view s, size_t i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return CodePoint{b0, 1};
  size_t len;
  std::uint32_t v;
  std::uint32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, v = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, v = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, v = b0 & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (i + len > s.size()) return std::nullopt;
  for (size_t k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return std::nullopt;
    v = v << 6 | (b & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return std::nullopt;
  return CodePoint{v, len};
}

bool is_control(std::uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Characters that reorder text on display ("photo\u202Egpj.exe" shows as "photoexe.jpg").
bool is_bidi_control(std::uint32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F ||
         cp == 0x061C;
}

bool clean_text(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto cp = decode_utf8(s, i);
    if (!cp || is_control(cp->value)) return false;
    i += cp->length;
  }
  return true;
}

using Params = std::map<std::string, std::string, std::less<>>;

// Parses `*( OWS ";" OWS name "=" ( token / quoted ) )` from s[i..]. Names are lower-cased;
// a repeated name is an error. Returns the error text, or "" on success.
std::string parse_params(std::string_view s, size_t i, Params& out) {
  for (;;) {
    skip_ows(s, i);
    if (i == s.size()) return {};
    if (s[i] != ';') return "expected ';' between parameters";
    ++i;
    skip_ows(s, i);
    if (i == s.size()) return {};  // a trailing ';' is harmless
    size_t name_end = scan_token(s, i);
    if (name_end == i) return "empty parameter name";
    std::string name = to_lower(s.substr(i, name_end - i));
    i = name_end;
    skip_ows(s, i);
    if (i == s.size() || s[i] != '=') return "parameter '" + name + "' has no value";
    ++i;
    skip_ows(s, i);
    std::string value;
    if (i < s.size() && s[i] == '"') {
      size_t close = s.find('"', i + 1);
      if (close == std::string_view::npos) return "unterminated quoted parameter '" + name + "'";
      value.assign(s.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      size_t end = scan_token(s, i);
      if (end == i) return "parameter '" + name + "' has an empty or invalid value";
      value.assign(s.substr(i, end - i));
      i = end;
    }
    if (!out.emplace(std::move(name), std::move(value)).second) return "repeated parameter";
  }
}

Result<std::string> boundary_of(std::string_view header) {
  size_t i = 0;
  skip_ows(header, i);
  size_t type_end = header.find(';', i);
  std::string_view type = header.substr(i, type_end == std::string_view::npos ? std::string_view::npos : type_end - i);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  if (!iequals(type, "multipart/form-data")) return malformed("content type is not multipart/form-data");
  Params params;
  if (type_end != std::string_view::npos) {
    if (auto err = parse_params(header, type_end, params); !err.empty()) return malformed("content type: " + err);
  }
  auto it = params.find("boundary");
  if (it == params.end()) return malformed("content type has no boundary");
  const std::string& b = it->second;
  if (b.empty() || b.size() > kMaxBoundary) return malformed("boundary must be 1-70 characters");
  for (char c : b) {
    if (!is_bchar(c)) return malformed("boundary contains a character RFC 2046 does not allow");
  }
  if (b.back() == ' ') return malformed("boundary ends in a space");
  return b;
}

struct PartHeaders {
  std::optional<std::string> disposition;
  std::optional<std::string> content_type;
};

std::string parse_header_line(std::string_view line, PartHeaders& h) {
  if (line.front() == ' ' || line.front() == '\t') return "folded header lines are not allowed";
  for (char c : line) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7F) return "control character in a part header";
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0 || scan_token(line, 0) != colon) {
    return "part header line is not 'Name: value'";
  }
  std::string_view name = line.substr(0, colon);
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  std::optional<std::string>* slot = nullptr;
  if (iequals(name, "content-disposition")) {
    slot = &h.disposition;
  } else if (iequals(name, "content-type")) {
    slot = &h.content_type;
  } else {
    return {};  // RFC 7578 4.8: other header fields are ignored
  }
  if (slot->has_value()) return "repeated " + to_lower(name) + " header";
  *slot = std::string(value);
  return {};
}

// Fills part from its headers; returns the error text or "".
std::string apply_headers(const PartHeaders& h, MultipartPart& part) {
  if (!h.disposition) return "part has no Content-Disposition header";
  std::string_view d = *h.disposition;
  size_t type_end = scan_token(d, 0);
  if (!iequals(d.substr(0, type_end), "form-data")) return "part disposition is not form-data";
  Params params;
  if (auto err = parse_params(d, type_end, params); !err.empty()) return "content-disposition: " + err;
  auto name = params.find("name");
  if (name == params.end() || name->second.empty()) return "part has no name";
  if (name->second.size() > kMaxNameBytes || !clean_text(name->second)) {
    return "part name is too long, not UTF-8, or has control characters";
  }
  part.name = name->second;
  if (auto fn = params.find("filename"); fn != params.end()) {
    part.is_file = true;
    part.filename = sanitize_filename(fn->second);
  }
  if (h.content_type) {
    if (h.content_type->size() > 255 || !clean_text(*h.content_type)) return "part content type is invalid";
    part.content_type = *h.content_type;
  }
  return {};
}

}  // namespace

std::string sanitize_filename(std::string_view raw) {
  size_t slash = raw.find_last_of("/\\");
  if (slash != std::string_view::npos) raw.remove_prefix(slash + 1);
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size();) {
    auto cp = decode_utf8(raw, i);
    if (!cp) {
      ++i;  // drop the stray byte
      continue;
    }
    if (!is_control(cp->value) && !is_bidi_control(cp->value)) out.append(raw.substr(i, cp->length));
    i += cp->length;
  }
  // Removing characters can bring dots together ("..\x01." -> "..."), so loop.
  for (size_t p; (p = out.find("..")) != std::string::npos;) out.erase(p, 2);
  if (out.size() > kMaxFilenameBytes) {
    size_t cut = kMaxFilenameBytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  return out;
}

Result<std::vector<MultipartPart>> parse_multipart(std::string_view content_type_header, std::string_view body,
                                                   size_t max_parts) {
  auto boundary = boundary_of(content_type_header);
  if (!boundary) return boundary.error();
  const std::string dash_boundary = "--" + *boundary;
  const std::string delimiter = "\r\n" + dash_boundary;

  if (!body.starts_with(dash_boundary)) return malformed("body does not start with the boundary");
  size_t pos = dash_boundary.size();
  std::vector<MultipartPart> parts;
  for (;;) {
    std::string_view after = body.substr(pos);
    if (after.starts_with("--")) {
      after.remove_prefix(2);
      if (!after.empty() && after != "\r\n") return malformed("data after the closing boundary");
      return parts;
    }
    if (!after.starts_with("\r\n")) return malformed("boundary line does not end in CRLF");
    pos += 2;
    if (parts.size() >= max_parts) {
      return Error{ErrorKind::kTooLarge,
                   "too_many_parts",
                   "multipart body has more than " + std::to_string(max_parts) + " parts",
                   {}};
    }

    PartHeaders headers;
    size_t header_start = pos;
    size_t header_count = 0;
    for (;;) {
      size_t eol = body.find("\r\n", pos);
      if (eol == std::string_view::npos) return malformed("part headers do not end");
      if (eol - header_start > kMaxHeaderBlock) return malformed("part headers are too long");
      std::string_view line = body.substr(pos, eol - pos);
      pos = eol + 2;
      if (line.empty()) break;
      if (++header_count > kMaxHeaders) return malformed("too many part headers");
      if (auto err = parse_header_line(line, headers); !err.empty()) return malformed(err);
    }

    MultipartPart part;
    if (auto err = apply_headers(headers, part); !err.empty()) return malformed(err);
    size_t end = body.find(delimiter, pos);
    if (end == std::string_view::npos) return malformed("closing boundary not found");
    part.data.assign(body.substr(pos, end - pos));
    parts.push_back(std::move(part));
    pos = end + delimiter.size();
  }
}

}  // namespace mingchu::files
