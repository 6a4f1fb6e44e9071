#include "audit/audit_log.hpp"

#include "crypto/sm3.hpp"
#include "storage/sql.hpp"

namespace mingchu::audit {
namespace {

constexpr const char* kLockHead = "SELECT seq, hash FROM audit_head WHERE id = 1";
constexpr const char* kInsert =
    "INSERT INTO audit_log (seq, at, actor_id, actor, role, action, target, source, result, detail, prev_hash, hash) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
constexpr const char* kMoveHead = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";
const std::vector<std::string> kInsertColumns = {"seq",    "at",     "actor_id", "actor",  "role",      "action",
                                                 "target", "source", "result",   "detail", "prev_hash", "hash"};
constexpr const char* kColumns =
    "SELECT seq, at, actor_id, actor, role, action, target, source, result, detail, prev_hash, hash FROM audit_log";

std::string field(const std::string& s) {
  // length-prefixed so that no choice of field contents can collide with another
  return std::to_string(s.size()) + ":" + s + "|";
}

StoredEntry from_row(const storage::Row& r) {
  StoredEntry s;
  s.seq = r.integer(0);
  s.at = r.integer(1);
  s.e.actor_id = r.text(2);
  s.e.actor = r.text(3);
  s.e.role = r.text(4);
  s.e.action = r.text(5);
  s.e.target = r.text(6);
  s.e.source = r.text(7);
  s.e.result = r.text(8);
  s.e.detail = r.text(9);
  s.prev_hash = r.text(10);
  s.hash = r.text(11);
  return s;
}

}  // namespace

std::string AuditLog::chain_hash(const std::string& prev, std::int64_t seq, TimeMs at, const Entry& e) {
  std::string m = field(prev) + field(std::to_string(seq)) + field(std::to_string(at)) + field(e.actor_id) +
                  field(e.actor) + field(e.role) + field(e.action) + field(e.target) + field(e.source) +
                  field(e.result) + field(e.detail);
  return crypto::sm3_hex(m);
}

void AuditLog::append(storage::Connection& c, const Entry& e) const {
  storage::Rows head = c.query(kLockHead + storage::for_update(c));
  std::int64_t seq = head[0].integer(0) + 1;
  std::string prev = head[0].text(1);
  TimeMs at = clock_.now_ms();
  std::string hash = chain_hash(prev, seq, at, e);
  c.exec(kInsert, {seq, at, e.actor_id, e.actor, e.role, e.action, e.target, e.source, e.result, e.detail, prev, hash});
  c.exec(kMoveHead, {seq, hash});
}

void AuditLog::append_all(storage::Connection& c, const std::vector<Entry>& entries, TimeMs at) const {
  if (entries.empty()) return;
  storage::Rows head = c.query(kLockHead + storage::for_update(c));
  std::int64_t seq = head[0].integer(0);
  std::string prev = head[0].text(1);
  std::vector<storage::Params> rows;
  rows.reserve(entries.size());
  for (const Entry& e : entries) {
    ++seq;
    std::string hash = chain_hash(prev, seq, at, e);
    rows.push_back({seq, at, e.actor_id, e.actor, e.role, e.action, e.target, e.source, e.result, e.detail, prev, hash});
    prev = std::move(hash);
  }
  storage::insert_rows(c, "audit_log", kInsertColumns, rows);
  c.exec(kMoveHead, {seq, prev});
}

void AuditLog::append(storage::Database& db, const Entry& e) const {
  db.in_transaction([&](storage::Connection& c) { append(c, e); });
}

VerifyResult AuditLog::verify(storage::Database& db) const {
  VerifyResult v;
  storage::Conn c = db.acquire();
  std::string prev(64, '0');
  std::int64_t expect_seq = 1;
  std::int64_t after = 0;
  constexpr std::int64_t kBatch = 5000;
  for (;;) {
    storage::Rows rows =
        c->query(std::string(kColumns) + " WHERE seq > $1 ORDER BY seq LIMIT $2", {after, kBatch});
    for (const auto& r : rows) {
      StoredEntry s = from_row(r);
      if (s.seq != expect_seq) {
        v.ok = false;
        v.first_bad_seq = expect_seq;
        v.reason = s.seq > expect_seq ? "entry " + std::to_string(expect_seq) + " is missing (deleted)"
                                      : "sequence out of order at " + std::to_string(s.seq);
        return v;
      }
      if (s.prev_hash != prev) {
        v.ok = false;
        v.first_bad_seq = s.seq;
        v.reason = "entry " + std::to_string(s.seq) + " does not follow the previous entry (inserted or re-chained)";
        return v;
      }
      if (chain_hash(prev, s.seq, s.at, s.e) != s.hash) {
        v.ok = false;
        v.first_bad_seq = s.seq;
        v.reason = "entry " + std::to_string(s.seq) + " was altered (its hash does not match its contents)";
        return v;
      }
      prev = s.hash;
      ++expect_seq;
      ++v.checked;
      after = s.seq;
    }
    if (rows.size() < static_cast<size_t>(kBatch)) break;
  }
  storage::Rows head = c->query(kLockHead);
  if (head.empty() || head[0].integer(0) != expect_seq - 1 || head[0].text(1) != prev) {
    v.ok = false;
    v.first_bad_seq = expect_seq;
    v.reason = head.empty() ? "the chain head is missing"
                            : "the chain head points past entry " + std::to_string(expect_seq - 1) +
                                  " (entries at the end were deleted)";
  }
  return v;
}

std::pair<std::vector<StoredEntry>, std::int64_t> AuditLog::list(storage::Database& db, const AuditQuery& q) const {
  std::string where = " WHERE 1 = 1";
  storage::Params p;
  if (q.actor) {
    p.emplace_back(*q.actor);
    where += " AND actor = $" + std::to_string(p.size());
  }
  if (q.action) {
    p.emplace_back(storage::like_escape(*q.action) + "%");
    where += " AND action LIKE $" + std::to_string(p.size()) + " ESCAPE '\\'";
  }
  if (q.result) {
    p.emplace_back(*q.result == "ok" ? std::string("ok") : storage::like_escape(*q.result) + "%");
    where += " AND result LIKE $" + std::to_string(p.size()) + " ESCAPE '\\'";
  }
  if (q.from) {
    p.emplace_back(*q.from);
    where += " AND at >= $" + std::to_string(p.size());
  }
  if (q.to) {
    p.emplace_back(*q.to);
    where += " AND at < $" + std::to_string(p.size());
  }
  storage::Conn c = db.acquire();
  std::int64_t total = c->query("SELECT COUNT(*) FROM audit_log" + where, p)[0].integer(0);
  storage::Params p2 = p;
  p2.emplace_back(std::int64_t{q.page_size});
  p2.emplace_back(std::int64_t{(q.page - 1) * q.page_size});
  storage::Rows rows = c->query(std::string(kColumns) + where + " ORDER BY seq DESC LIMIT $" +
                                    std::to_string(p2.size() - 1) + " OFFSET $" + std::to_string(p2.size()),
                                p2);
  std::vector<StoredEntry> out;
  for (const auto& r : rows) out.push_back(from_row(r));
  return {std::move(out), total};
}

}  // namespace mingchu::audit
