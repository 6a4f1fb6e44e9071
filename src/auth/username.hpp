// User names as people type them. Two spellings that a person cannot tell apart name the same
// account: "ADMIN" and "admin", or the fullwidth "ａｄｍｉｎ" an IME produces. Uniqueness and
// login therefore compare a key: the name after Unicode NFKC normalisation and case folding
// (ICU's NFKC_Casefold). The name shown is the NFKC form the user was created with.
//
// Pure functions; thread safe (ICU's normaliser instances are immutable singletons).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mingchu::auth {

// The NFKC form of s; nullopt when s is not valid UTF-8.
std::optional<std::string> nfkc(std::string_view s);
// The key a user name is compared by: NFKC_Casefold(s); nullopt when s is not valid UTF-8.
std::optional<std::string> username_key(std::string_view s);

}  // namespace mingchu::auth
