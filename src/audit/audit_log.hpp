// The tamper-evident audit log (GB/T 22239 level 2: audit of all user actions).
//
// Every entry is chained to the previous one: hash = SM3(prev_hash | seq | at | actor_id |
// actor | role | action | target | source | result | detail). The head of the chain lives in
// one row (audit_head) that append() locks, so concurrent writers (threads or nodes over one
// PostgreSQL) serialise and the chain never forks. append() runs inside the caller's
// transaction: the write and its audit entry commit or vanish together.
//
// verify() recomputes the chain and names the first entry that was altered, inserted or
// deleted (a gap in seq, a prev_hash that does not match, a hash that does not match, or a
// head that does not match the last entry).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "storage/database.hpp"

namespace mingchu::audit {

struct Entry {
  std::string actor_id;
  std::string actor;  // username, api key name or "system"
  std::string role;
  std::string action;  // e.g. "auth.login", "unit.create"
  std::string target;  // e.g. "unit:unit_3f9a..."
  std::string source;  // remote address
  std::string result = "ok";
  std::string detail;  // short JSON or text, never secrets
};

struct StoredEntry {
  std::int64_t seq = 0;
  TimeMs at = 0;
  Entry e;
  std::string prev_hash;
  std::string hash;
};

struct VerifyResult {
  bool ok = true;
  std::int64_t checked = 0;
  std::optional<std::int64_t> first_bad_seq;
  std::string reason;
};

struct AuditQuery {
  std::optional<std::string> actor;
  std::optional<std::string> action;  // prefix match
  std::optional<std::string> result;  // "ok" exactly, else a prefix ("denied" → "denied: 404")
  std::optional<TimeMs> from, to;
  int page = 1;
  int page_size = 50;
};

class AuditLog {
 public:
  explicit AuditLog(const Clock& clock) : clock_(clock) {}
  // c must be inside a transaction.
  void append(storage::Connection& c, const Entry& e) const;
  // Appends the entries in order, all stamped `at`, under one lock of the head and with
  // multi-row INSERTs: the form for writers that record many entries in one transaction
  // (the alert writer's group-commit batches). c must be inside a transaction.
  void append_all(storage::Connection& c, const std::vector<Entry>& entries, TimeMs at) const;
  // Opens its own transaction.
  void append(storage::Database& db, const Entry& e) const;
  VerifyResult verify(storage::Database& db) const;
  std::pair<std::vector<StoredEntry>, std::int64_t> list(storage::Database& db, const AuditQuery& q) const;

  static std::string chain_hash(const std::string& prev, std::int64_t seq, TimeMs at, const Entry& e);

 private:
  const Clock& clock_;
};

}  // namespace mingchu::audit
