// IP addresses and networks, for the decisions that depend on where a peer or a target is:
// refusing webhook targets inside the platform's own networks (SSRF), trusting
// X-Forwarded-For only from known proxies, serving /metrics to loopback.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are treated as the IPv4 address they carry, so
// one rule covers both spellings. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr;

namespace mingchu::net {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4
  std::string to_string() const;
  bool operator==(const IpAddress&) const = default;
};

// "127.0.0.1", "::1", "[::1]" (brackets allowed), "::ffff:127.0.0.1" (→ IPv4). nullopt otherwise.
std::optional<IpAddress> parse_ip(std::string_view text);
std::optional<IpAddress> from_sockaddr(const sockaddr* sa);

struct IpNetwork {
  IpAddress base;
  int prefix = 0;
  bool contains(const IpAddress& a) const;
};

// "127.0.0.0/8", "::1/128", or one address (a /32 or /128). nullopt when malformed or when
// the address has bits set beyond the prefix.
std::optional<IpNetwork> parse_network(std::string_view text);
// A comma- or space-separated list of networks; the first bad entry in the error.
std::optional<std::vector<IpNetwork>> parse_networks(std::string_view text, std::string* bad_entry = nullptr);
bool any_contains(const std::vector<IpNetwork>& nets, const IpAddress& a);

bool is_loopback(const IpAddress& a);
// Addresses that reach the platform's own host or networks rather than the Internet:
// unspecified (0.0.0.0/8, ::), loopback, RFC 1918 private, carrier-grade NAT (100.64/10),
// link-local (169.254/16, fe80::/10, where cloud metadata services live), unique local
// (fc00::/7), multicast, broadcast and the other IANA special-purpose blocks.
bool is_internal(const IpAddress& a);

// Where an outbound request may go: anywhere public, and into internal networks only when an
// administrator listed them (notify.webhook_allow_networks).
struct AddressPolicy {
  std::vector<IpNetwork> allow;
  bool allowed(const IpAddress& a) const { return !is_internal(a) || any_contains(allow, a); }
};

}  // namespace mingchu::net
