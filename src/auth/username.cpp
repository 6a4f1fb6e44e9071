#include "auth/username.hpp"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

namespace mingchu::auth {
namespace {

bool valid_utf8(std::string_view s) {
  int32_t i = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  auto n = static_cast<int32_t>(s.size());
  while (i < n) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0) return false;
  }
  return true;
}

std::optional<std::string> normalize(std::string_view s, const icu::Normalizer2* (*instance)(UErrorCode&)) {
  if (s.size() > 1024 || !valid_utf8(s)) return std::nullopt;
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = instance(status);
  if (U_FAILURE(status) || n == nullptr) return std::nullopt;
  icu::UnicodeString in = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  icu::UnicodeString out = n->normalize(in, status);
  if (U_FAILURE(status)) return std::nullopt;
  std::string utf8;
  out.toUTF8String(utf8);
  return utf8;
}

}  // namespace

std::optional<std::string> nfkc(std::string_view s) { return normalize(s, &icu::Normalizer2::getNFKCInstance); }

std::optional<std::string> username_key(std::string_view s) {
  return normalize(s, &icu::Normalizer2::getNFKCCasefoldInstance);
}

}  // namespace mingchu::auth
