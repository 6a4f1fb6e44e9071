// Tickets: what a browser puts in a URL instead of the session token (EventSource and media
// elements cannot send headers). A ticket names one purpose, is good once, for kTicketTtl, and
// only while the session that asked for it lasts. Only its SHA-256 is stored.
#include "auth/auth_service.hpp"
#include "core/ids.hpp"

namespace mingchu::auth {
namespace {

constexpr const char* kInsertTicket =
    "INSERT INTO auth_tickets (ticket_hash, purpose, user_id, session_hash, created_at, expires_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* kForgetOldTickets = "DELETE FROM auth_tickets WHERE expires_at < $1";
// Spends the ticket: exactly one redeemer can change used_at from NULL.
constexpr const char* kSpendTicket =
    "UPDATE auth_tickets SET used_at = $1 WHERE ticket_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > "
    "$1";
constexpr const char* kTicketSession = "SELECT session_hash FROM auth_tickets WHERE ticket_hash = $1";
constexpr std::string_view kPrefix = "mct_";

}  // namespace

Result<Ticket> AuthService::issue_ticket(const Principal& who, const std::string& purpose) {
  if (who.is_api_key || who.session_hash.empty()) {
    return Error::forbidden("tickets are for browser sessions; API keys send their header");
  }
  if (purpose != "stream" && purpose != "media") {
    return Error::invalid("purpose", "invalid_purpose", "purpose must be stream or media");
  }
  TimeMs now = clock_.now_ms();
  Ticket t;
  t.ticket = std::string(kPrefix) + random_token(32);
  t.purpose = purpose;
  t.expires_at = now + kTicketTtl;
  db_.in_transaction([&](storage::Connection& c) {
    c.exec(kForgetOldTickets, {now - kHourMs});
    c.exec(kInsertTicket, {hash_secret(t.ticket), purpose, who.user_id, who.session_hash, now, t.expires_at});
  });
  return t;
}

Result<Principal> AuthService::redeem_ticket(const std::string& ticket, std::string_view purpose,
                                             const std::string& source) {
  if (ticket.size() < kPrefix.size() + 16 || ticket.size() > 128 || ticket.compare(0, kPrefix.size(), kPrefix) != 0) {
    return Error::unauthorized("missing or malformed ticket");
  }
  std::string h = hash_secret(ticket);
  std::string session;
  db_.in_transaction([&](storage::Connection& c) {
    if (c.exec(kSpendTicket, {clock_.now_ms(), h, std::string(purpose)}) != 1) return;
    storage::Rows r = c.query(kTicketSession, {h});
    if (!r.empty()) session = r[0].text(0);
  });
  if (session.empty()) return Error::unauthorized("unknown, used, expired or wrong-purpose ticket");
  return authenticate_session(session, source);
}

}  // namespace mingchu::auth
