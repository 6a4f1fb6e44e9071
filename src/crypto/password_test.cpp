#include "crypto/password.hpp"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace mingchu::crypto {
namespace {

const PasswordCost kFast = PasswordCost::for_tests();

TEST(Password, HashAndVerify) {
  std::string stored = hash_password("correct horse battery staple", kFast);
  EXPECT_TRUE(stored.starts_with("$argon2id$"));
  EXPECT_TRUE(verify_password(stored, "correct horse battery staple"));
  EXPECT_FALSE(verify_password(stored, "correct horse battery stapler"));
  EXPECT_FALSE(verify_password(stored, ""));
}

TEST(Password, SaltMakesEveryHashDifferent) { EXPECT_NE(hash_password("same", kFast), hash_password("same", kFast)); }

TEST(Password, UnicodeAndNulBytes) {
  std::string pw = std::string("密码\0secret", 12);
  std::string stored = hash_password(pw, kFast);
  EXPECT_TRUE(verify_password(stored, pw));
  EXPECT_FALSE(verify_password(stored, "密码"));
}

TEST(Password, EmptyPasswordIsHashable) {
  std::string stored = hash_password("", kFast);
  EXPECT_TRUE(verify_password(stored, ""));
  EXPECT_FALSE(verify_password(stored, " "));
}

TEST(Password, GarbageStoredTextNeverVerifies) {
  std::string good = hash_password("pw", kFast);
  for (std::string bad :
       {std::string(""), std::string("pw"), std::string("$argon2id$"), std::string(500, 'a'),
        good.substr(0, good.size() - 3), std::string("$2b$10$abcdef"), good + std::string("\0x", 2)}) {
    EXPECT_FALSE(verify_password(bad, "pw")) << bad;
  }
}

TEST(Password, CostIsRecordedAndRehashDetected) {
  std::string stored = hash_password("pw", kFast);
  EXPECT_FALSE(password_needs_rehash(stored, kFast));
  EXPECT_TRUE(password_needs_rehash(stored, PasswordCost::interactive()));
  EXPECT_TRUE(password_needs_rehash("not a hash", kFast));
}

TEST(Password, InteractiveCostMatchesLibsodium) {
  PasswordCost c = PasswordCost::interactive();
  EXPECT_EQ(c.ops_limit, 2u);
  EXPECT_EQ(c.mem_limit, 64u * 1024 * 1024);
  EXPECT_LT(PasswordCost::for_tests().mem_limit, c.mem_limit);
}

TEST(Password, InteractiveCostRoundTrip) {
  // One real-cost hash, to prove the production setting works (about 0.1 s).
  std::string stored = hash_password("pw", PasswordCost::interactive());
  EXPECT_NE(stored.find("m=65536"), std::string::npos);
  EXPECT_TRUE(verify_password(stored, "pw"));
}

TEST(Password, ConcurrentFirstUse) {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&ok, t] { ok[t] = verify_password(hash_password("p", kFast), "p") ? 1 : 0; });
  }
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 1);
}

}  // namespace
}  // namespace mingchu::crypto
