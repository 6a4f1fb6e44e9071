// Standard base64 (RFC 4648 section 4, alphabet A-Z a-z 0-9 + /, '=' padding), used for
// ciphertext fields and inline snapshot images in JSON.
//
// Pure functions, safe from any thread. Decoding is strict: the input must be exactly what
// base64_encode produces for some bytes — length a multiple of 4, padding only at the end,
// unused bits zero, no whitespace or line breaks. Anything else is a kMalformed
// "malformed_base64" error; nothing is skipped.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mingchu::crypto {

std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);

}  // namespace mingchu::crypto
