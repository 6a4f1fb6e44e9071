#include "core/validate.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

#include "core/time.hpp"

namespace mingchu {
namespace {

constexpr std::string_view kUsccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
constexpr std::array<int, 17> kUsccWeights = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
constexpr std::array<int, 17> kIdWeights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
constexpr std::string_view kIdCheckMap = "10X98765432";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// The value of a run of decimal digits (the caller has checked they are digits).
int number(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[static_cast<size_t>(month - 1)];
}

int uscc_value(char c) {
  auto pos = kUsccAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// The check character for 17 characters of the alphabet, or '\0' if one is outside it.
char uscc_check(std::string_view first17) {
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    int v = uscc_value(first17[i]);
    if (v < 0) return '\0';
    sum += v * kUsccWeights[i];
  }
  int check = 31 - sum % 31;
  if (check == 31) check = 0;
  return kUsccAlphabet[static_cast<size_t>(check)];
}

char id_check(std::string_view first17) {
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) sum += (first17[i] - '0') * kIdWeights[i];
  return kIdCheckMap[static_cast<size_t>(sum % 11)];
}

// Provincial-level codes of GB/T 2260 (mainland 11-65) plus Taiwan 71, Hong Kong 81, Macao 82.
constexpr std::array<int, 34> kProvinces = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42,
                                            43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82};

bool valid_province(int p) { return std::find(kProvinces.begin(), kProvinces.end(), p) != kProvinces.end(); }

// Splits s into UTF-8 code points; a byte that does not start a well-formed sequence is a
// code point of its own, so every byte of s lands in exactly one piece.
std::vector<std::string_view> code_points(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len = 1;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
    }
    if (len > 1) {
      bool good = i + len <= s.size();
      for (size_t k = 1; good && k < len; ++k) {
        good = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
      }
      if (!good) len = 1;
    }
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

// Keeps `front` code points at the start and `back` at the end, '*' for each one between.
// When there are no more than front + back code points, every one is masked.
std::string mask_middle(std::string_view s, size_t front, size_t back) {
  auto cps = code_points(s);
  std::string out;
  if (cps.size() <= front + back) {
    out.assign(cps.size(), '*');
    return out;
  }
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i < front || i >= cps.size() - back) {
      out.append(cps[i]);
    } else {
      out.push_back('*');
    }
  }
  return out;
}

}  // namespace

bool valid_uscc(std::string_view code) {
  if (code.size() != 18) return false;
  if (!all_digits(code.substr(2, 6))) return false;
  char check = uscc_check(code.substr(0, 17));
  return check != '\0' && check == code[17];
}

std::string uscc_with_check_digit(std::string_view first17) {
  if (first17.size() != 17) return {};
  char check = uscc_check(first17);
  if (check == '\0') return {};
  std::string out(first17);
  out.push_back(check);
  return out;
}

bool valid_id_number(std::string_view id, std::optional<int> today_days) {
  if (id.size() != 18 || !all_digits(id.substr(0, 17))) return false;
  if (!valid_province(number(id.substr(0, 2)))) return false;
  int year = number(id.substr(6, 4));
  int month = number(id.substr(10, 2));
  int day = number(id.substr(12, 2));
  if (year < 1850 || year > 2099 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
    return false;
  }
  if (today_days) {
    // format_date gives "YYYY-MM-DD"; compare as the number YYYYMMDD.
    std::string today = format_date(*today_days);
    int today_ymd = number(today.substr(0, 4)) * 10000 + number(today.substr(5, 2)) * 100 + number(today.substr(8, 2));
    if (year * 10000 + month * 100 + day > today_ymd) return false;
  }
  return id_check(id.substr(0, 17)) == id[17];
}

std::string id_number_with_check(std::string_view first17) {
  if (first17.size() != 17 || !all_digits(first17)) return {};
  std::string out(first17);
  out.push_back(id_check(first17));
  return out;
}

bool valid_phone(std::string_view p) {
  if (p.size() == 11 && p[0] == '1' && p[1] >= '3' && p[1] <= '9' && all_digits(p)) return true;
  if (p.size() < 3 || p[0] != '0') return false;
  // Beijing (010) and the 02X cities have three-digit area codes; everywhere else has four.
  size_t area_len;
  if (p[1] == '1') {
    if (p[2] != '0') return false;
    area_len = 3;
  } else if (p[1] == '2') {
    area_len = 3;
  } else {
    area_len = 4;
  }
  if (p.size() < area_len || !all_digits(p.substr(0, area_len))) return false;
  std::string_view rest = p.substr(area_len);
  if (!rest.empty() && rest[0] == '-') rest.remove_prefix(1);
  return (rest.size() == 7 || rest.size() == 8) && all_digits(rest) && rest[0] != '0';
}

bool valid_division_code(std::string_view code) {
  if (code.size() != 6 || !all_digits(code)) return false;
  return valid_province(number(code.substr(0, 2)));
}

bool valid_licence_number(std::string_view n) {
  return n.size() == 16 && n[0] == 'J' && n[1] == 'Y' && all_digits(n.substr(2));
}

bool valid_filing_number(std::string_view n) {
  if (n.size() < 6 || n.size() > 32) return false;
  for (char c : n) {
    bool ok = is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string mask_id_number(std::string_view id) { return mask_middle(id, 4, 4); }

std::string mask_phone(std::string_view phone) { return mask_middle(phone, 3, 4); }

std::string mask_name(std::string_view name) {
  auto cps = code_points(name);
  if (cps.empty()) return {};
  if (cps.size() == 1) return "*";
  std::string out(cps[0]);
  out.append(cps.size() - 1, '*');
  return out;
}

bool valid_rtsp_url(std::string_view s) {
  size_t host = 0;
  for (std::string_view sc : {std::string_view("rtsp://"), std::string_view("rtsps://")}) {
    if (s.size() > sc.size() && s.substr(0, sc.size()) == sc) host = sc.size();
  }
  if (host == 0 || s.size() > 512 || s[host] == '/' || s[host] == ':' || s[host] == '@') return false;
  // '&' separates query parameters in many cameras' URLs (".../realmonitor?channel=1&subtype=0"):
  // allowed there, and only there
  size_t query = s.find('?');
  for (size_t i = 0; i < s.size(); ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u <= 0x20 || u >= 0x7f) return false;
    if (std::string_view("\"'<>\\`$;|(){}^").find(s[i]) != std::string_view::npos) return false;
    if (s[i] == '&' && (query == std::string_view::npos || i < query)) return false;
  }
  return true;
}

}  // namespace mingchu
