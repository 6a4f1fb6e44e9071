#include "notify/outbox.hpp"

#include "core/text.hpp"

namespace mingchu::notify {

OutboxEvent outbox_event_from_row(const storage::Row& r, size_t first) {
  OutboxEvent e;
  e.id = r.text(first);
  e.topic = r.text(first + 1);
  e.unit_id = r.text(first + 2);
  e.jpath = r.text(first + 3);
  e.payload = r.text(first + 4);
  e.sms = r.integer(first + 5) != 0;
  e.created_at = r.integer(first + 6);
  return e;
}

std::vector<std::string> jpath_segments(std::string_view jpath) { return split_nonempty(jpath, '/'); }

std::string jurisdiction_of(std::string_view jpath) {
  auto segs = jpath_segments(jpath);
  return segs.empty() ? std::string() : segs.back();
}

}  // namespace mingchu::notify
