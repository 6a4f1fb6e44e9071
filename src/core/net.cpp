#include "core/net.hpp"

#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace mingchu::net {
namespace {

// ::ffff:a.b.c.d → a.b.c.d
IpAddress unmap(IpAddress a) {
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.v6 && std::memcmp(a.bytes.data(), kMapped, 12) == 0) {
    IpAddress v4;
    std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
    return v4;
  }
  return a;
}

// The special-purpose blocks (IANA registries), written as networks once.
const std::vector<IpNetwork>& internal_networks() {
  static const std::vector<IpNetwork> kNets = [] {
    std::vector<IpNetwork> out;
    for (const char* n :
         {"0.0.0.0/8",      "10.0.0.0/8",    "100.64.0.0/10",  "127.0.0.0/8",    "169.254.0.0/16", "172.16.0.0/12",
          "192.0.0.0/24",   "192.0.2.0/24",  "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",  "198.51.100.0/24",
          "203.0.113.0/24", "224.0.0.0/4",   "240.0.0.0/4",    "::/128",         "::1/128",        "64:ff9b::/96",
          "100::/64",       "2001:db8::/32", "fc00::/7",       "fe80::/10",      "ff00::/8"}) {
      out.push_back(*parse_network(n));
    }
    return out;
  }();
  return kNets;
}

}  // namespace

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return unmap(a);
  return std::nullopt;
}

std::optional<IpAddress> from_sockaddr(const sockaddr* sa) {
  if (!sa) return std::nullopt;
  IpAddress a;
  if (sa->sa_family == AF_INET) {
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return a;
  }
  if (sa->sa_family == AF_INET6) {
    a.v6 = true;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    return unmap(a);
  }
  return std::nullopt;
}

bool IpNetwork::contains(const IpAddress& raw) const {
  IpAddress a = unmap(raw);
  if (a.v6 != base.v6) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[static_cast<size_t>(full)] & mask) == (base.bytes[static_cast<size_t>(full)] & mask);
}

std::optional<IpNetwork> parse_network(std::string_view text) {
  size_t slash = text.find('/');
  auto addr = parse_ip(text.substr(0, slash));
  if (!addr) return std::nullopt;
  IpNetwork n;
  n.base = *addr;
  int max = addr->v6 ? 128 : 32;
  if (slash == std::string_view::npos) {
    n.prefix = max;
    return n;
  }
  std::string_view p = text.substr(slash + 1);
  if (p.empty() || p.size() > 3) return std::nullopt;
  int v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  n.prefix = v;
  // no host bits beyond the prefix: "127.0.0.1/8" is a typo for a network, refuse it
  for (int bit = v; bit < max; ++bit) {
    if (n.base.bytes[static_cast<size_t>(bit / 8)] & (0x80 >> (bit % 8))) return std::nullopt;
  }
  return n;
}

std::optional<std::vector<IpNetwork>> parse_networks(std::string_view text, std::string* bad_entry) {
  std::vector<IpNetwork> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find_first_of(", ", i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view item = text.substr(i, j - i);
    if (!item.empty()) {
      auto n = parse_network(item);
      if (!n) {
        if (bad_entry) *bad_entry = std::string(item);
        return std::nullopt;
      }
      out.push_back(*n);
    }
    i = j + 1;
  }
  return out;
}

bool any_contains(const std::vector<IpNetwork>& nets, const IpAddress& a) {
  for (const auto& n : nets) {
    if (n.contains(a)) return true;
  }
  return false;
}

bool is_loopback(const IpAddress& raw) {
  IpAddress a = unmap(raw);
  if (!a.v6) return a.bytes[0] == 127;
  static const IpAddress kOne = *parse_ip("::1");
  return a == kOne;
}

bool is_internal(const IpAddress& a) { return any_contains(internal_networks(), a); }

}  // namespace mingchu::net
