// IP addresses, networks and the internal-address rule. Only loopback and unspecified
// addresses appear here (tests never name other addresses).
#include "core/net.hpp"

#include <gtest/gtest.h>

namespace mingchu::net {
namespace {

TEST(Net, ParsesAddressesInEverySpelling) {
  EXPECT_EQ(parse_ip("127.0.0.1")->to_string(), "127.0.0.1");
  EXPECT_EQ(parse_ip("::1")->to_string(), "::1");
  EXPECT_EQ(parse_ip("[::1]")->to_string(), "::1");
  // IPv4-mapped IPv6 is the IPv4 address: one rule covers both spellings
  EXPECT_EQ(parse_ip("::ffff:127.0.0.1")->to_string(), "127.0.0.1");
  EXPECT_FALSE(parse_ip("::ffff:127.0.0.1")->v6);
  for (const char* bad : {"", "localhost", "127.0.0", "127.0.0.1.1", "127.0.0.256", "[::1", "::1]", "1:2:3",
                          "127.0.0.1 ", " 127.0.0.1", "127.0.0.1/8"}) {
    EXPECT_FALSE(parse_ip(bad).has_value()) << bad;
  }
}

TEST(Net, NetworksContainTheirAddressesOnly) {
  auto lo = parse_network("127.0.0.0/8");
  ASSERT_TRUE(lo);
  EXPECT_TRUE(lo->contains(*parse_ip("127.0.0.1")));
  EXPECT_TRUE(lo->contains(*parse_ip("127.255.255.254")));
  EXPECT_TRUE(lo->contains(*parse_ip("::ffff:127.0.0.9")));
  EXPECT_FALSE(lo->contains(*parse_ip("0.0.0.0")));
  EXPECT_FALSE(lo->contains(*parse_ip("::1")));
  auto one = parse_network("127.0.0.2");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->prefix, 32);
  EXPECT_TRUE(one->contains(*parse_ip("127.0.0.2")));
  EXPECT_FALSE(one->contains(*parse_ip("127.0.0.3")));
  auto odd = parse_network("127.0.0.0/13");  // a prefix that is not a whole byte
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(*parse_ip("127.7.255.255")));
  EXPECT_FALSE(odd->contains(*parse_ip("127.8.0.0")));
  EXPECT_TRUE(parse_network("::1/128")->contains(*parse_ip("::1")));
  for (const char* bad : {"127.0.0.1/8" /* host bits set */, "127.0.0.0/33", "::1/129", "127.0.0.0/", "127.0.0.0/x",
                          "/8", "localhost/8"}) {
    EXPECT_FALSE(parse_network(bad).has_value()) << bad;
  }
  std::string entry;
  auto list = parse_networks("127.0.0.0/8, ::1  127.0.0.2", &entry);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 3u);
  EXPECT_FALSE(parse_networks("127.0.0.0/8,nonsense", &entry));
  EXPECT_EQ(entry, "nonsense");
  EXPECT_EQ(parse_networks("")->size(), 0u);
}

TEST(Net, LoopbackAndUnspecifiedAreInternalAndAllowedOnlyWhenListed) {
  for (const char* a : {"127.0.0.1", "127.1.2.3", "::1", "0.0.0.0", "::", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(is_internal(*parse_ip(a))) << a;
  }
  EXPECT_TRUE(is_loopback(*parse_ip("127.0.0.1")));
  EXPECT_TRUE(is_loopback(*parse_ip("::1")));
  EXPECT_FALSE(is_loopback(*parse_ip("0.0.0.0")));
  AddressPolicy none;
  EXPECT_FALSE(none.allowed(*parse_ip("127.0.0.1")));
  AddressPolicy lo{*parse_networks("127.0.0.0/8")};
  EXPECT_TRUE(lo.allowed(*parse_ip("127.0.0.1")));
  EXPECT_FALSE(lo.allowed(*parse_ip("::1")));
  EXPECT_FALSE(lo.allowed(*parse_ip("0.0.0.0")));
}

}  // namespace
}  // namespace mingchu::net
