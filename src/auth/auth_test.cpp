#include <gtest/gtest.h>

#include "audit/audit_log.hpp"
#include "auth/auth_service.hpp"
#include "auth/username.hpp"
#include "storage/testing.hpp"

namespace mingchu::auth {
namespace {

class AuthTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = storage::open_test_database(GetParam());
    audit_ = std::make_unique<audit::AuditLog>(clock_);
    AuthConfig cfg;
    cfg.password_cost = crypto::PasswordCost::for_tests();
    auth_ = std::make_unique<AuthService>(*db_, clock_, *audit_, cfg);
    storage::Conn c = db_->acquire();
    auto node = [&](const std::string& id, const std::string& parent, const std::string& level, const std::string& code,
                    const std::string& path) {
      c->exec("INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) VALUES ($1,$2,$3,$4,$5,$6,0)",
              {id, parent.empty() ? storage::Value(nullptr) : storage::Value(parent), level, code, id, path});
    };
    node("jp", "", "province", "320000", "/jp/");
    node("jc", "jp", "city", "320600", "/jp/jc/");
    node("ja", "jc", "district", "320602", "/jp/jc/ja/");
    node("jb", "jc", "district", "320612", "/jp/jc/jb/");
    auto unit = [&](const std::string& id, const std::string& j, const std::string& path) {
      c->exec("INSERT INTO units (id, jurisdiction_id, jpath, name, store_type, disclosure_token, created_at, updated_at) "
              "VALUES ($1, $2, $3, $1, 'other', $1, 0, 0)",
              {id, j, path});
    };
    unit("ua", "ja", "/jp/jc/ja/");
    unit("ub", "jb", "/jp/jc/jb/");
    admin_ = make("root", "Str0ng!Pass", Role::kPlatformAdmin, "", {});
    city_ = make("cityreg", "Str0ng!Pass", Role::kRegulator, "jc", {});
    reg_a_ = make("rega", "Str0ng!Pass", Role::kRegulator, "ja", {});
    merchant_a_ = make("shopa", "Str0ng!Pass", Role::kMerchant, "", {"ua"});
  }

  Principal make(const std::string& name, const std::string& pw, Role role, const std::string& j,
                 std::vector<std::string> units) {
    NewUser u{name, pw, name, role, j, std::move(units)};
    auto created = auth_->create_user_unchecked(u, "test");
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
    auto login = auth_->login(name, pw, "127.0.0.1");
    EXPECT_TRUE(login.ok());
    auto p = auth_->authenticate_token(login->token, "127.0.0.1");
    EXPECT_TRUE(p.ok());
    return *p;
  }

  ManualClock clock_{true};
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<AuthService> auth_;
  Principal admin_, city_, reg_a_, merchant_a_;
};

TEST_P(AuthTest, PrincipalsCarryTheirScope) {
  EXPECT_EQ(admin_.jpath, "/");
  EXPECT_EQ(city_.jpath, "/jp/jc/");
  EXPECT_EQ(reg_a_.jpath, "/jp/jc/ja/");
  EXPECT_EQ(merchant_a_.unit_ids, std::vector<std::string>{"ua"});
  EXPECT_TRUE(city_.covers("/jp/jc/jb/", "ub"));
  EXPECT_FALSE(reg_a_.covers("/jp/jc/jb/", "ub"));
  EXPECT_TRUE(merchant_a_.covers("/jp/jc/ja/", "ua"));
  EXPECT_FALSE(merchant_a_.covers("/jp/jc/ja/", "ux"));
}

TEST_P(AuthTest, WrongPasswordIs401AndLocksAfterFiveFailures) {
  for (int i = 0; i < 4; ++i) {
    auto r = auth_->login("rega", "wrong", "127.0.0.1");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kUnauthorized);
  }
  auto fifth = auth_->login("rega", "wrong", "127.0.0.1");
  EXPECT_EQ(fifth.error().kind, ErrorKind::kLocked);
  // even the right password is refused while locked
  auto locked = auth_->login("rega", "Str0ng!Pass", "127.0.0.1");
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().kind, ErrorKind::kLocked);
  clock_.advance_ms(15 * kMinuteMs + 1);
  EXPECT_TRUE(auth_->login("rega", "Str0ng!Pass", "127.0.0.1").ok());
}

TEST_P(AuthTest, UnknownUserIs401) {
  auto r = auth_->login("nobody", "Str0ng!Pass", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_credentials");
}

TEST_P(AuthTest, SessionsTimeOutWhenIdleAndAreLimitedPerUser) {
  auto l = auth_->login("rega", "Str0ng!Pass", "x");
  ASSERT_TRUE(l.ok());
  clock_.advance_ms(29 * kMinuteMs);
  EXPECT_TRUE(auth_->authenticate_token(l->token, "x").ok());
  clock_.advance_ms(29 * kMinuteMs);  // still alive: the previous use refreshed it
  EXPECT_TRUE(auth_->authenticate_token(l->token, "x").ok());
  clock_.advance_ms(31 * kMinuteMs);
  auto expired = auth_->authenticate_token(l->token, "x");
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, "session_expired");

  std::vector<std::string> tokens;
  for (int i = 0; i < 6; ++i) {
    clock_.advance_ms(1000);  // logins a second apart, so "oldest" is well defined
    tokens.push_back(auth_->login("rega", "Str0ng!Pass", "x")->token);
  }
  EXPECT_FALSE(auth_->authenticate_token(tokens[0], "x").ok()) << "the oldest session makes room";
  EXPECT_TRUE(auth_->authenticate_token(tokens[5], "x").ok());
}

TEST_P(AuthTest, TokensAreStoredOnlyAsHashes) {
  auto l = auth_->login("rega", "Str0ng!Pass", "x");
  storage::Conn c = db_->acquire();
  EXPECT_TRUE(c->query("SELECT 1 FROM sessions WHERE token_hash = $1", {l->token}).empty());
  EXPECT_FALSE(c->query("SELECT 1 FROM sessions WHERE token_hash = $1", {AuthService::hash_secret(l->token)}).empty());
  storage::Rows pw = c->query("SELECT password_hash FROM users WHERE username = 'rega'");
  EXPECT_EQ(pw[0].text(0).rfind("$argon2id$", 0), 0u);
}

TEST_P(AuthTest, LogoutEndsTheSession) {
  auto l = auth_->login("rega", "Str0ng!Pass", "x");
  auto p = auth_->authenticate_token(l->token, "x");
  ASSERT_TRUE(auth_->logout(*p).ok());
  EXPECT_FALSE(auth_->authenticate_token(l->token, "x").ok());
}

TEST_P(AuthTest, PasswordPolicy) {
  EXPECT_TRUE(auth_->password_policy_violation("bob", "short1!").has_value());
  EXPECT_TRUE(auth_->password_policy_violation("bob", "alllowercase1").has_value());
  EXPECT_TRUE(auth_->password_policy_violation("bob", "Xx-bob-2026").has_value()) << "contains the user name";
  EXPECT_TRUE(auth_->password_policy_violation("bob", "Xx-BOB-2026").has_value()) << "case-insensitively";
  EXPECT_FALSE(auth_->password_policy_violation("bob", "Kitchen@2026").has_value());
}

TEST_P(AuthTest, PasswordExpiresAfterMaxAge) {
  clock_.advance_ms(91 * kDayMs);
  auto l = auth_->login("rega", "Str0ng!Pass", "x");
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->password_expired);
  auto p = auth_->authenticate_token(l->token, "x");
  ASSERT_TRUE(auth_->change_password(*p, "Str0ng!Pass", "N3w!Passw0rd").ok());
  EXPECT_FALSE(auth_->login("rega", "N3w!Passw0rd", "x")->password_expired);
  EXPECT_FALSE(auth_->login("rega", "Str0ng!Pass", "x").ok());
}

TEST_P(AuthTest, ChangePasswordChecksOldAndPolicy) {
  auto bad_old = auth_->change_password(reg_a_, "nope", "N3w!Passw0rd");
  EXPECT_EQ(bad_old.error().field, "old_password");
  auto weak = auth_->change_password(reg_a_, "Str0ng!Pass", "weak");
  EXPECT_EQ(weak.error().field, "new_password");
}

TEST_P(AuthTest, UsersAreCreatedOnlyInsideScopeAndNeverStronger) {
  NewUser r{"regb2", "Str0ng!Pass", "", Role::kRegulator, "jb", {}};
  auto out = auth_->create_user(reg_a_, r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().field, "jurisdiction_id");
  EXPECT_TRUE(auth_->create_user(city_, r).ok());
  NewUser admin{"root2", "Str0ng!Pass", "", Role::kPlatformAdmin, "", {}};
  EXPECT_EQ(auth_->create_user(city_, admin).error().kind, ErrorKind::kForbidden);
  NewUser m{"shopb", "Str0ng!Pass", "", Role::kMerchant, "", {"ub"}};
  EXPECT_FALSE(auth_->create_user(reg_a_, m).ok());
  EXPECT_FALSE(auth_->create_user(merchant_a_, m).ok());
  NewUser m2{"shopa2", "Str0ng!Pass", "", Role::kMerchant, "", {"ua"}};
  EXPECT_TRUE(auth_->create_user(merchant_a_, m2).ok());
  NewUser dup{"shopa2", "Str0ng!Pass", "", Role::kMerchant, "", {"ua"}};
  EXPECT_EQ(auth_->create_user(reg_a_, dup).error().kind, ErrorKind::kConflict);
}

TEST_P(AuthTest, UserListIsScoped) {
  auto [mine, n] = auth_->list_users(reg_a_, 1, 50);
  std::vector<std::string> names;
  for (const auto& u : mine) names.push_back(u.username);
  EXPECT_NE(std::find(names.begin(), names.end(), "shopa"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "cityreg"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "root"), names.end());
  EXPECT_EQ(n, static_cast<std::int64_t>(mine.size()));
  EXPECT_EQ(auth_->get_user(reg_a_, city_.user_id).error().kind, ErrorKind::kNotFound);
}

TEST_P(AuthTest, ApiKeysAreScopedAndRevocable) {
  auto k = auth_->create_api_key(reg_a_, "box", ApiKeyScope{"ua", "", true});
  ASSERT_TRUE(k.ok());
  auto p = auth_->authenticate_api_key(k->key, "x");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->ingest_only);
  EXPECT_TRUE(p->covers("/jp/jc/ja/", "ua"));
  EXPECT_FALSE(p->covers("/jp/jc/ja/", "ub"));
  EXPECT_FALSE(auth_->create_api_key(reg_a_, "x", ApiKeyScope{"ub", "", false}).ok());
  EXPECT_FALSE(auth_->create_api_key(reg_a_, "x", ApiKeyScope{"", "jb", false}).ok());
  ASSERT_TRUE(auth_->revoke_api_key(reg_a_, k->id).ok());
  EXPECT_FALSE(auth_->authenticate_api_key(k->key, "x").ok());
  EXPECT_EQ(auth_->revoke_api_key(reg_a_, k->id).error().kind, ErrorKind::kNotFound);
}

TEST_P(AuthTest, EveryLoginAttemptIsAudited) {
  (void)auth_->login("rega", "bad", "::1");
  audit::AuditQuery q;
  q.action = "auth.login";
  auto [entries, total] = audit_->list(*db_, q);
  ASSERT_GE(total, 5);
  EXPECT_EQ(entries.front().e.result, "failed: wrong password");
  EXPECT_EQ(entries.front().e.source, "::1");
  EXPECT_TRUE(audit_->verify(*db_).ok);
}

TEST_P(AuthTest, LockoutCountsPerAccountAndSourceSoAnAttackerCannotLockTheOwnerOut) {
  for (int i = 0; i < 5; ++i) (void)auth_->login("rega", "wrong", "127.0.0.1");
  TimeMs wait = 0;
  auto attacker = auth_->login("rega", "Str0ng!Pass", "127.0.0.1", &wait);
  ASSERT_FALSE(attacker.ok());
  EXPECT_EQ(attacker.error().kind, ErrorKind::kLocked);
  EXPECT_GT(wait, 14 * kMinuteMs);
  EXPECT_TRUE(auth_->login("rega", "Str0ng!Pass", "::1").ok()) << "the owner, elsewhere, still logs in";
  audit::AuditQuery q;
  q.action = "auth.lockout";
  EXPECT_EQ(audit_->list(*db_, q).second, 1);
}

TEST_P(AuthTest, RefusalsWhileLockedAreAuditedAtABoundedRate) {
  for (int i = 0; i < 5; ++i) (void)auth_->login("rega", "wrong", "127.0.0.1");
  for (int i = 0; i < 200; ++i) (void)auth_->login("rega", "wrong", "127.0.0.1");
  audit::AuditQuery q;
  q.action = "auth.login";
  q.result = "refused";
  constexpr int kPerMinute = 10;  // AuthService::kRefusalsPerMinute
  EXPECT_EQ(audit_->list(*db_, q).second, kPerMinute);
  clock_.advance_ms(kMinuteMs);
  (void)auth_->login("rega", "wrong", "127.0.0.1");
  q.page_size = 1;
  auto [latest, n] = audit_->list(*db_, q);
  EXPECT_EQ(n, kPerMinute + 1);
  EXPECT_EQ(latest.front().e.detail, "suppressed=190");
}

TEST_P(AuthTest, UnknownAndExistingAccountsAnswerAlike) {
  for (int i = 0; i < 7; ++i) {
    TimeMs wait_real = 0, wait_ghost = 0;
    auto real = auth_->login("rega", "wrong", "127.0.0.1", &wait_real);
    auto ghost = auth_->login("ghost", "wrong", "127.0.0.1", &wait_ghost);
    ASSERT_FALSE(real.ok());
    ASSERT_FALSE(ghost.ok());
    EXPECT_EQ(real.error().kind, ghost.error().kind) << i;
    EXPECT_EQ(real.error().code, ghost.error().code) << i;
    EXPECT_EQ(real.error().message, ghost.error().message) << i;
    EXPECT_EQ(wait_real > 0, wait_ghost > 0) << i;
  }
}

TEST_P(AuthTest, EachFurtherLockLastsTwiceAsLong) {
  TimeMs first = 0, second = 0;
  for (int i = 0; i < 5; ++i) (void)auth_->login("rega", "wrong", "127.0.0.1", &first);
  clock_.advance_ms(first + 1);
  for (int i = 0; i < 5; ++i) (void)auth_->login("rega", "wrong", "127.0.0.1", &second);
  EXPECT_EQ(first, 15 * kMinuteMs);
  EXPECT_EQ(second, 30 * kMinuteMs);
  // an administrator lifts it
  ASSERT_TRUE(auth_->unlock_user(admin_, reg_a_.user_id).ok());
  EXPECT_TRUE(auth_->login("rega", "Str0ng!Pass", "127.0.0.1").ok());
  EXPECT_EQ(auth_->unlock_user(reg_a_, city_.user_id).error().kind, ErrorKind::kNotFound);
}

TEST_P(AuthTest, OneSourceSprayingManyAccountsIsLockedAsAWhole) {
  for (int i = 0; i < 30; ++i) (void)auth_->login("spray" + std::to_string(i), "wrong", "127.0.0.1");
  auto r = auth_->login("rega", "Str0ng!Pass", "127.0.0.1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kLocked);
  EXPECT_TRUE(auth_->login("rega", "Str0ng!Pass", "::1").ok());
}

TEST_P(AuthTest, UserNamesCompareAfterNfkcAndCaseFolding) {
  EXPECT_EQ(username_key("ＡＤＭＩＮ"), std::optional<std::string>("admin"));
  EXPECT_EQ(username_key("Admin"), std::optional<std::string>("admin"));
  EXPECT_EQ(nfkc("ｒｅｇａ"), std::optional<std::string>("rega"));
  EXPECT_FALSE(username_key(std::string("a\xff")).has_value());
  NewUser upper{"REGA", "Str0ng!Pass", "", Role::kRegulator, "ja", {}};
  EXPECT_EQ(auth_->create_user(admin_, upper).error().code, "username_taken");
  NewUser wide{"ｒｅｇａ", "Str0ng!Pass", "", Role::kRegulator, "ja", {}};
  EXPECT_EQ(auth_->create_user(admin_, wide).error().code, "username_taken");
  auto l = auth_->login("ReGa", "Str0ng!Pass", "127.0.0.1");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->user.id, reg_a_.user_id);
  EXPECT_TRUE(auth_->login("ｒｅｇａ", "Str0ng!Pass", "127.0.0.1").ok());
}

TEST_P(AuthTest, PasswordChangeEndsEveryOtherSession) {
  auto a = auth_->login("rega", "Str0ng!Pass", "127.0.0.1");
  auto b = auth_->login("rega", "Str0ng!Pass", "127.0.0.1");
  auto pa = auth_->authenticate_token(a->token, "127.0.0.1");
  auto epoch = auth_->revocation_epoch();
  ASSERT_TRUE(auth_->change_password(*pa, "Str0ng!Pass", "N3w!Passw0rd").ok());
  EXPECT_TRUE(auth_->authenticate_token(a->token, "127.0.0.1").ok());
  EXPECT_FALSE(auth_->authenticate_token(b->token, "127.0.0.1").ok());
  EXPECT_GT(auth_->revocation_epoch(), epoch);
}

TEST_P(AuthTest, TicketsAreSingleUseShortLivedSinglePurposeAndDieWithTheSession) {
  auto l = auth_->login("rega", "Str0ng!Pass", "127.0.0.1");
  auto p = auth_->authenticate_token(l->token, "127.0.0.1");
  auto t = auth_->issue_ticket(*p, "stream");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(auth_->authenticate_token(t->ticket, "127.0.0.1").ok()) << "not a session token";
  EXPECT_FALSE(auth_->redeem_ticket(t->ticket, "media", "127.0.0.1").ok()) << "wrong purpose";
  auto r = auth_->redeem_ticket(t->ticket, "stream", "127.0.0.1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->user_id, reg_a_.user_id);
  EXPECT_EQ(r->session_hash, p->session_hash);
  EXPECT_FALSE(auth_->redeem_ticket(t->ticket, "stream", "127.0.0.1").ok()) << "used";
  auto late = auth_->issue_ticket(*p, "stream");
  clock_.advance_ms(AuthService::kTicketTtl + 1);
  EXPECT_FALSE(auth_->redeem_ticket(late->ticket, "stream", "127.0.0.1").ok()) << "expired";
  auto orphan = auth_->issue_ticket(*p, "stream");
  ASSERT_TRUE(auth_->logout(*p).ok());
  EXPECT_FALSE(auth_->redeem_ticket(orphan->ticket, "stream", "127.0.0.1").ok()) << "the session ended";
  EXPECT_EQ(auth_->issue_ticket(*p, "admin").error().field, "purpose");
  storage::Conn c = db_->acquire();
  EXPECT_TRUE(c->query("SELECT 1 FROM auth_tickets WHERE ticket_hash = $1", {t->ticket}).empty()) << "hashes only";
}

TEST_P(AuthTest, ChangingAUsersAccessEndsItsSessions) {
  auto l = auth_->login("shopa", "Str0ng!Pass", "127.0.0.1");
  UserPatch rename;
  rename.display_name = "Shop A";
  ASSERT_TRUE(auth_->update_user(reg_a_, merchant_a_.user_id, rename).ok());
  EXPECT_TRUE(auth_->authenticate_token(l->token, "127.0.0.1").ok()) << "a new display name changes no access";
  UserPatch off;
  off.disabled = true;
  EXPECT_EQ(auth_->update_user(merchant_a_, reg_a_.user_id, off).error().kind, ErrorKind::kNotFound);
  ASSERT_TRUE(auth_->update_user(reg_a_, merchant_a_.user_id, off).ok());
  EXPECT_FALSE(auth_->authenticate_token(l->token, "127.0.0.1").ok());
  EXPECT_EQ(auth_->update_user(reg_a_, reg_a_.user_id, off).error().kind, ErrorKind::kForbidden);
  UserPatch up;
  up.role = Role::kPlatformAdmin;
  EXPECT_EQ(auth_->update_user(city_, reg_a_.user_id, up).error().kind, ErrorKind::kForbidden);
}

TEST_P(AuthTest, ApiKeysNeedAnExplicitScopeAndGetLeastPrivilege) {
  EXPECT_EQ(auth_->create_api_key(reg_a_, "x", ApiKeyScope{}).error().field, "scope");
  auto k = auth_->create_api_key(reg_a_, "x", ApiKeyScope{"", "ja", false});
  ASSERT_TRUE(k.ok());
  auto p = auth_->authenticate_api_key(k->key, "127.0.0.1");
  EXPECT_EQ(p->permissions, unsigned{kPermIngest});
  ApiKeyScope rw{"", "ja", false, kPermRead | kPermWrite};
  auto k2 = auth_->create_api_key(reg_a_, "y", rw);
  EXPECT_EQ(auth_->authenticate_api_key(k2->key, "127.0.0.1")->permissions, unsigned{kPermRead | kPermWrite});
  ApiKeyScope conflict{"", "ja", true, kPermRead};
  EXPECT_EQ(auth_->create_api_key(reg_a_, "z", conflict).error().field, "permissions");
}

INSTANTIATE_TEST_SUITE_P(Engines, AuthTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::auth
