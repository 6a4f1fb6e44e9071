// Identifiers and random tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mingchu {

// A new id: prefix + 16 random lowercase hex digits, e.g. "unit_3f9a0c1d2e4b5a6f".
std::string new_id(std::string_view prefix);
// n random bytes from the OS CSPRNG, as lowercase hex (2n chars) or URL-safe base64.
std::string random_hex(size_t n_bytes);
std::string random_token(size_t n_bytes);
std::string to_hex(std::string_view bytes);
// n_bytes (≤ 8) of a fast per-thread generator (splitmix64 seeded from the CSPRNG), as hex:
// for ids that must be unique, not unguessable (request ids, row ids). Never for secrets.
std::string quick_random_hex(size_t n_bytes);
// An id whose text order is its creation order: prefix, "_", 11 hex digits of `now` (epoch ms),
// 8 quick random hex digits. Rows of append-heavy tables keyed by it land at the right edge of
// their B-trees, so a batch dirties a few pages instead of one page per row.
std::string ordered_id(std::string_view prefix, std::int64_t now_ms);
// True when s looks like an id this program could have made or accepted: 1..64 chars of
// [A-Za-z0-9_-]. Used to refuse hostile ids before they reach storage.
bool plausible_id(std::string_view s);

}  // namespace mingchu
