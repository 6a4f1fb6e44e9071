#include "sip/manscdp.hpp"

#include <cstdio>
#include <ctime>

#include <iconv.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace mingchu::sip {
namespace {

Error bad(std::string m) { return Error::malformed("bad_manscdp", std::move(m)); }

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string from_gb18030(std::string_view in) {
  iconv_t cd = iconv_open("UTF-8", "GB18030");
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::string(in);
  std::string out(in.size() * 2 + 16, '\0');
  char* src = const_cast<char*>(in.data());
  size_t left = in.size();
  char* dst = out.data();
  size_t room = out.size();
  while (left > 0) {
    if (iconv(cd, &src, &left, &dst, &room) == static_cast<size_t>(-1)) {
      if (errno == E2BIG) break;  // cannot happen: 2 bytes in never make more than 4 out... keep what fits
      // an invalid byte: replace and go on
      ++src;
      --left;
      if (room < 3) break;
      std::memcpy(dst, "\xEF\xBF\xBD", 3);
      dst += 3;
      room -= 3;
    }
  }
  iconv_close(cd);
  out.resize(out.size() - room);
  return out;
}

std::string decode_entities(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      o += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      o += '&';
      continue;
    }
    std::string_view e = s.substr(i + 1, semi - i - 1);
    if (e == "lt")
      o += '<';
    else if (e == "gt")
      o += '>';
    else if (e == "amp")
      o += '&';
    else if (e == "quot")
      o += '"';
    else if (e == "apos")
      o += '\'';
    else if (e.size() > 1 && e[0] == '#') {
      long v = e[1] == 'x' ? std::strtol(std::string(e.substr(2)).c_str(), nullptr, 16)
                           : std::strtol(std::string(e.substr(1)).c_str(), nullptr, 10);
      if (v > 0 && v < 128) o += static_cast<char>(v);
    } else {
      o.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return o;
}

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

}  // namespace

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 99;
    if (n == 99 || i + n >= s.size() + (n == 0 ? 1 : 0)) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n + 1;
  }
  return true;
}

std::string manscdp_to_utf8(std::string_view body) {
  std::string head = lower(body.substr(0, std::min<size_t>(body.size(), 120)));
  bool gb = false;
  if (head.starts_with("<?xml")) {
    size_t enc = head.find("encoding");
    size_t end = head.find("?>");
    if (enc != std::string::npos && (end == std::string::npos || enc < end)) {
      std::string rest = head.substr(enc);
      gb = rest.find("gb2312") != std::string::npos || rest.find("gbk") != std::string::npos ||
           rest.find("gb18030") != std::string::npos;
    }
  }
  if (gb || !valid_utf8(body)) return from_gb18030(body);
  return std::string(body);
}

Result<Manscdp> parse_manscdp(std::string_view raw) {
  std::string text = manscdp_to_utf8(raw);
  std::string_view s = text;
  Manscdp out;
  std::vector<std::string> stack;
  std::map<std::string, std::string>* item = nullptr;
  std::string pending_text;
  size_t i = 0;
  bool root_closed = false;
  while (i < s.size()) {
    size_t lt = s.find('<', i);
    if (lt == std::string_view::npos) {
      if (!trim(s.substr(i)).empty()) return bad("text outside the elements");
      break;
    }
    pending_text.assign(s.substr(i, lt - i));
    if ((stack.empty()) && !trim(pending_text).empty()) return bad("text outside the elements");
    if (s.substr(lt).starts_with("<?")) {
      size_t e = s.find("?>", lt);
      if (e == std::string_view::npos) return bad("unterminated declaration");
      i = e + 2;
      continue;
    }
    if (s.substr(lt).starts_with("<!--")) {
      size_t e = s.find("-->", lt);
      if (e == std::string_view::npos) return bad("unterminated comment");
      i = e + 3;
      continue;
    }
    if (s.substr(lt).starts_with("<!")) return bad("DOCTYPE and CDATA are not allowed");
    size_t gt = s.find('>', lt);
    if (gt == std::string_view::npos) return bad("unterminated tag");
    std::string_view tag = s.substr(lt + 1, gt - lt - 1);
    i = gt + 1;
    if (tag.empty()) return bad("empty tag");
    if (tag[0] == '/') {
      std::string name = trim(tag.substr(1));
      if (stack.empty() || stack.back() != name) return bad("mismatched </" + name.substr(0, 32) + ">");
      std::string value = trim(decode_entities(pending_text));
      size_t depth = stack.size();
      if (depth == 2) {
        if (name == "CmdType")
          out.cmd_type = value;
        else if (name == "SN")
          out.sn = value;
        else if (name == "DeviceID")
          out.device_id = value;
        if (value.size() <= 1024 && !out.fields.count(name)) out.fields[name] = value;
      } else if (item && depth == 4 && value.size() <= 1024) {
        (*item)[name] = value;
      }
      if (name == "Item" && depth == 3) item = nullptr;
      stack.pop_back();
      if (stack.empty()) root_closed = true;
      continue;
    }
    bool self_closing = tag.back() == '/';
    if (self_closing) tag.remove_suffix(1);
    size_t sp = tag.find_first_of(" \t\r\n");
    std::string name(tag.substr(0, sp));
    if (name.empty() || name.size() > 64) return bad("bad element name");
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != ':' && c != '.') {
        return bad("bad element name");
      }
    }
    if (root_closed) return bad("more than one root element");
    if (self_closing) continue;
    stack.push_back(name);
    if (stack.size() > 16) return bad("nested too deeply");
    if (stack.size() == 1) out.root = name;
    if (stack.size() == 3 && name == "Item") {
      if (out.items.size() >= kMaxItems) return bad("too many items");
      out.items.emplace_back();
      item = &out.items.back();
    }
  }
  if (!stack.empty()) return bad("unclosed <" + stack.back().substr(0, 32) + ">");
  if (out.root.empty()) return bad("no root element");
  if (out.cmd_type.empty()) return bad("no CmdType");
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string manscdp_time(std::int64_t epoch_ms, int utc_offset_minutes) {
  std::time_t t = static_cast<std::time_t>(epoch_ms / 1000 + std::int64_t{utc_offset_minutes} * 60);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[64];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return b;
}

std::optional<std::int64_t> parse_manscdp_time(std::string_view s, int utc_offset_minutes) {
  // exactly "YYYY-MM-DDTHH:MM:SS" (or a space for the T); anything after it (a zone, fractions) ignored
  if (s.size() < 19 || s.size() > 40) return std::nullopt;
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t k = at; k < at + n; ++k) {
      if (s[k] < '0' || s[k] > '9') return -1;
      v = v * 10 + (s[k] - '0');
    }
    return v;
  };
  if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':') return std::nullopt;
  int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  std::time_t t = timegm(&tm);
  std::tm back{};
  gmtime_r(&t, &back);
  if (back.tm_mday != d || back.tm_mon != mo - 1) return std::nullopt;  // 31 February
  return (static_cast<std::int64_t>(t) - std::int64_t{utc_offset_minutes} * 60) * 1000;
}

}  // namespace mingchu::sip
