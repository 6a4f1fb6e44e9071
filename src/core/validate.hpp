// Shape and checksum checks for the identifiers a food-safety registry stores, and the masks
// used when showing personal data to callers who may not see it in full.
//
// Every function is pure (no clock, no I/O, no global state) and safe to call from any thread.
// Validators never fail loudly: they answer false for anything that is not exactly the
// canonical form (no trimming, no case folding, no "+86"); callers normalise at the edge first
// if they want to be lenient. The *_with_check* helpers return "" when their input is not 17
// characters of the right alphabet.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mingchu {

// Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from
// 0-9 A-H J-N P-R T-U W-Y (no I, O, S, V, Z), upper case only; positions 3-8 are the
// registering authority's six-digit division code; the 18th is the check character
// 31 - (sum of value(c_i) * 3^i mod 31) mod 31, with 31 written as 0.
bool valid_uscc(std::string_view code);
// first17 + its check character; "" if first17 is not 17 characters of the alphabet.
std::string uscc_with_check_digit(std::string_view first17);

// Resident identity number (居民身份证号码, GB 11643-1999): 6-digit division code (province
// part 11-82), birth date YYYYMMDD, 3-digit sequence, check character (0-9 or upper-case X).
// The birth date must be a real calendar date in 1850..2099. When today_days (days since
// 1970-01-01, from the caller's Clock) is given, a birth after today is refused as well.
bool valid_id_number(std::string_view id, std::optional<int> today_days = std::nullopt);
// first17 + its check character; "" if first17 is not 17 digits.
std::string id_number_with_check(std::string_view first17);

// Mainland mobile number 1[3-9]XXXXXXXXX, or a landline: area code (010, 02X, or 0XXX)
// optionally followed by '-', then a 7-8 digit subscriber number not starting with 0,
// e.g. "0513-12345678", "051312345678", "010-87654321".
bool valid_phone(std::string_view phone);

// Six-digit administrative division code (行政区划代码, GB/T 2260): the province part is one
// of the existing provincial codes between 11 and 82.
bool valid_division_code(std::string_view code);

// Food business licence number (食品经营许可证编号): "JY" followed by 14 digits.
bool valid_licence_number(std::string_view number);
// Small-catering filing number (小餐饮备案编号): local formats vary, so only the shape is
// checked: 6-32 characters of ASCII letters, digits and '-'.
bool valid_filing_number(std::string_view number);

// Masks for display. They never fail; they work on UTF-8 code points (an invalid byte counts
// as one), so a multi-byte character is never cut in half.
// Keeps the first 4 and last 4 characters: "320602199001011234" -> "3206**********1234".
// Inputs of 8 characters or fewer are masked entirely.
std::string mask_id_number(std::string_view id);
// Keeps the first 3 and last 4 characters: "13812345678" -> "138****5678".
// Inputs of 7 characters or fewer are masked entirely.
std::string mask_phone(std::string_view phone);
// Keeps the first character and replaces each other one by '*': "张三丰" -> "张**",
// "李四" -> "李*". A one-character name becomes "*" (keeping it would show all of it).
std::string mask_name(std::string_view name);

// A camera stream URL the media core may pull: rtsp:// or rtsps://, then a host; at most 512
// bytes; no whitespace, control or non-ASCII characters, and no shell metacharacters ('&' only
// between query parameters). Nothing
// else (file:, http:, pipe:, ...) may ever reach FFmpeg through a camera.
bool valid_rtsp_url(std::string_view url);

}  // namespace mingchu
