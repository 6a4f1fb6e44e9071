// MANSCDP (GB/T 28181 §A): the XML bodies of MESSAGE requests. A small tolerant reader of the
// documents devices send (Keepalive, DeviceInfo, Catalog, RecordInfo, ...), never a general XML
// parser: depth at most 16, at most kMaxItems list items, entities &lt; &gt; &amp; &quot; &apos;
// and numeric ones (ASCII). Bodies declared GB2312/GBK/GB18030 (or not valid UTF-8) are converted
// to UTF-8 with iconv first.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace mingchu::sip {

constexpr size_t kMaxItems = 4096;

struct Manscdp {
  std::string root;      // Query | Response | Notify | Control
  std::string cmd_type;  // Keepalive | Catalog | DeviceInfo | ...
  std::string sn;
  std::string device_id;
  std::map<std::string, std::string> fields;              // the root's simple children
  std::vector<std::map<std::string, std::string>> items;  // <Item> of DeviceList / RecordList
};

// UTF-8 of a body in its declared (or guessed) encoding.
std::string manscdp_to_utf8(std::string_view body);
// An error (code "bad_manscdp") when the body is not such a document.
Result<Manscdp> parse_manscdp(std::string_view body);
std::string xml_escape(std::string_view s);
// MANSCDP times (StartTime, EndTime of RecordInfo): local "YYYY-MM-DDTHH:MM:SS" without a zone,
// at utc_offset_minutes east of UTC; epoch milliseconds (whole seconds) both ways. The parser
// also takes a space for the T and refuses anything out of range.
std::string manscdp_time(std::int64_t epoch_ms, int utc_offset_minutes);
std::optional<std::int64_t> parse_manscdp_time(std::string_view s, int utc_offset_minutes);
bool valid_utf8(std::string_view s);

}  // namespace mingchu::sip
