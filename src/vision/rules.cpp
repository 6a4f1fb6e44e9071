#include "vision/rules.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

namespace mingchu::vision {

CameraAi default_camera_ai() {
  CameraAi c;
  TypeRule animal;
  animal.labels = {"cat", "dog", "bird"};
  animal.min_score = 0.5f;
  c.types["animal"] = animal;
  TypeRule phone;
  phone.labels = {"cell phone"};
  phone.min_score = 0.5f;
  phone.held_by_person = true;
  c.types["phone_use"] = phone;
  TypeRule stranger;
  stranger.labels = {"person"};
  stranger.min_score = 0.6f;
  stranger.k = 3;
  stranger.n = 4;
  stranger.schedule = {{22 * 60, 6 * 60}};
  stranger.against_roster = true;
  c.types["stranger"] = stranger;
  return c;
}

int Roster::on_shift(int weekday, int minute) const {
  const int prev = weekday == 1 ? 7 : weekday - 1;
  std::vector<std::string> on;
  for (const auto& s : shifts) {
    auto has = [&](int d) { return std::find(s.days.begin(), s.days.end(), d) != s.days.end(); };
    const bool active = s.from < s.to ? (has(weekday) && minute >= s.from && minute < s.to)
                                      : ((has(weekday) && minute >= s.from) || (has(prev) && minute < s.to));
    if (active) on.insert(on.end(), s.staff_ids.begin(), s.staff_ids.end());
  }
  std::sort(on.begin(), on.end());
  return static_cast<int>(std::unique(on.begin(), on.end()) - on.begin());
}

bool in_schedule(const std::vector<std::pair<int, int>>& windows, int minute) {
  if (windows.empty()) return true;
  for (const auto& [from, to] : windows) {
    if (from <= to ? (minute >= from && minute < to) : (minute >= from || minute < to)) return true;
  }
  return false;
}

bool point_in_zones(const std::vector<Polygon>& zones, cv::Point2f p) {
  if (zones.empty()) return true;
  for (const auto& z : zones) {
    if (cv::pointPolygonTest(z, p, false) >= 0) return true;
  }
  return false;
}

namespace {

// "HH:MM-HH:MM" -> minutes
bool parse_window(const std::string& s, std::pair<int, int>& out) {
  int h1, m1, h2, m2;
  char tail;
  if (s.size() != 11 || std::sscanf(s.c_str(), "%2d:%2d-%2d:%2d%c", &h1, &m1, &h2, &m2, &tail) != 4) return false;
  if (h1 < 0 || h1 > 24 || h2 < 0 || h2 > 24 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59) return false;
  if ((h1 == 24 && m1) || (h2 == 24 && m2)) return false;
  out = {h1 * 60 + m1, h2 * 60 + m2};
  return out.first != out.second;
}

Status read_polygons(const json::value& v, const std::string& field, std::vector<Polygon>& out) {
  auto bad = [&](const std::string& why) { return Error::invalid(field, "invalid_zone", field + ": " + why); };
  if (!v.is_array()) return bad("must be an array of polygons");
  const auto& arr = v.as_array();
  if (arr.size() > 16) return bad("at most 16 polygons");
  out.clear();
  for (const auto& pv : arr) {
    if (!pv.is_array() || pv.as_array().size() < 3 || pv.as_array().size() > 64)
      return bad("a polygon is an array of 3 to 64 [x, y] points");
    Polygon poly;
    for (const auto& pt : pv.as_array()) {
      if (!pt.is_array() || pt.as_array().size() != 2) return bad("a point is [x, y]");
      double xy[2];
      for (size_t i = 0; i < 2; ++i) {
        const auto& n = pt.as_array()[i];
        if (!n.is_number()) return bad("coordinates are numbers");
        xy[i] = n.to_number<double>();
        if (!(xy[i] >= 0 && xy[i] <= 1)) return bad("coordinates are fractions of the frame, 0 to 1");
      }
      poly.emplace_back(static_cast<float>(xy[0]), static_cast<float>(xy[1]));
    }
    out.push_back(std::move(poly));
  }
  return ok_status();
}

// floats as the decimals they were given as (0.7f is 0.699999988 as a double)
double dec(float v) { return std::round(static_cast<double>(v) * 1e5) / 1e5; }

json::array polygons_json(const std::vector<Polygon>& ps) {
  json::array a;
  for (const auto& p : ps) {
    json::array pa;
    for (const auto& pt : p) pa.push_back(json::array{dec(pt.x), dec(pt.y)});
    a.push_back(std::move(pa));
  }
  return a;
}

}  // namespace

Result<Roster> parse_roster(const json::value& v) {
  if (!v.is_array()) return Error::invalid("shifts", "invalid_roster", "shifts must be an array");
  const auto& arr = v.as_array();
  if (arr.size() > 50) return Error::invalid("shifts", "invalid_roster", "at most 50 shifts");
  Roster r;
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string f = "shifts[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) return Error::invalid(f, "invalid_roster", f + " must be an object");
    const auto& o = arr[i].as_object();
    for (const auto& [k, val] : o)
      if (k != "days" && k != "from" && k != "to" && k != "staff_ids")
        return Error::invalid(f + "." + std::string(k), "unknown_field", "unknown field '" + std::string(k) + "'");
    Shift s;
    const auto* days = o.if_contains("days");
    if (!days || !days->is_array() || days->as_array().empty() || days->as_array().size() > 7)
      return Error::invalid(f + ".days", "invalid_roster", "days are 1 to 7 ISO weekdays (1 = Monday)");
    for (const auto& d : days->as_array()) {
      if (!d.is_int64() || d.as_int64() < 1 || d.as_int64() > 7)
        return Error::invalid(f + ".days", "invalid_roster", "days are ISO weekdays 1 (Monday) to 7");
      const int day = static_cast<int>(d.as_int64());
      if (std::find(s.days.begin(), s.days.end(), day) != s.days.end())
        return Error::invalid(f + ".days", "invalid_roster", "a day is listed twice");
      s.days.push_back(day);
    }
    const auto* from = o.if_contains("from");
    const auto* to = o.if_contains("to");
    std::pair<int, int> win;
    if (!from || !to || !from->is_string() || !to->is_string() ||
        !parse_window(std::string(from->as_string()) + "-" + std::string(to->as_string()), win))
      return Error::invalid(f + ".from", "invalid_roster", "from and to are local times \"HH:MM\", not equal");
    s.from = win.first;
    s.to = win.second;
    const auto* staff = o.if_contains("staff_ids");
    if (!staff || !staff->is_array() || staff->as_array().size() > 500)
      return Error::invalid(f + ".staff_ids", "invalid_roster", "staff_ids is an array of at most 500 staff ids");
    for (const auto& id : staff->as_array()) {
      if (!id.is_string() || id.as_string().empty() || id.as_string().size() > 64)
        return Error::invalid(f + ".staff_ids", "invalid_roster", "staff ids are strings");
      s.staff_ids.emplace_back(id.as_string());
    }
    r.shifts.push_back(std::move(s));
  }
  return r;
}

json::array roster_to_json(const Roster& r) {
  json::array out;
  for (const auto& s : r.shifts) {
    json::array days, staff;
    for (int d : s.days) days.emplace_back(d);
    for (const auto& id : s.staff_ids) staff.emplace_back(id);
    char from[16], to[16];
    std::snprintf(from, sizeof from, "%02d:%02d", s.from / 60, s.from % 60);
    std::snprintf(to, sizeof to, "%02d:%02d", s.to / 60, s.to % 60);
    out.push_back(json::object{{"days", std::move(days)}, {"from", from}, {"to", to}, {"staff_ids", std::move(staff)}});
  }
  return out;
}

Result<CameraAi> parse_camera_ai(const json::object& o, const std::function<bool(const std::string&)>& known_type) {
  CameraAi c = default_camera_ai();
  ObjectReader r(o);
  if (const auto* models = r.opt_array("models", 8)) {
    c.models.clear();
    for (const auto& m : *models) {
      if (!m.is_string() || m.as_string().empty() || m.as_string().size() > 64)
        return Error::invalid("models", "invalid_model", "models are model ids");
      c.models.emplace_back(m.as_string());
    }
  }
  if (auto rate = r.opt_number("rate", 0.1, 25)) c.rate = *rate;
  if (const auto* m = r.opt_object("motion")) {
    ObjectReader mr(*m, "motion");
    if (auto e = mr.opt_bool("enabled")) c.motion = *e;
    if (auto t = mr.opt_int("threshold", 1, 255)) c.motion_threshold = static_cast<int>(*t);
    if (mr.has("masks")) {
      mr.allow("masks");
      if (auto st = read_polygons(m->at("masks"), "motion.masks", c.motion_masks); !st) return st.error();
    }
    if (auto st = mr.finish(); !st) return st.error();
  }
  if (const auto* types = r.opt_object("types")) {
    if (types->size() > 64) return Error::invalid("types", "too_many_types", "at most 64 types");
    for (const auto& [key, val] : *types) {
      std::string code(key);
      std::string f = "types." + code;
      if (!known_type(code)) return Error::invalid(f, "unknown_alert_type", "no alert type '" + code + "'");
      if (!val.is_object()) return Error::invalid(f, "invalid_type", f + " must be an object");
      TypeRule t = c.types.count(code) ? c.types[code] : TypeRule{};
      ObjectReader tr(val.as_object(), f);
      if (auto e = tr.opt_bool("enabled")) t.enabled = *e;
      if (const auto* labels = tr.opt_array("labels", 32)) {
        t.labels.clear();
        for (const auto& l : *labels) {
          if (!l.is_string() || l.as_string().empty() || l.as_string().size() > 64)
            return Error::invalid(f + ".labels", "invalid_label", "labels are non-empty strings");
          t.labels.emplace_back(l.as_string());
        }
      }
      if (auto v = tr.opt_number("min_score", 0, 1)) t.min_score = static_cast<float>(*v);
      if (auto v = tr.opt_int("k", 1, 100)) t.k = static_cast<int>(*v);
      if (auto v = tr.opt_int("n", 1, 100)) t.n = static_cast<int>(*v);
      if (auto v = tr.opt_number("min_area", 0, 1)) t.min_area = static_cast<float>(*v);
      if (auto v = tr.opt_number("max_area", 0, 1)) t.max_area = static_cast<float>(*v);
      if (auto v = tr.opt_number("min_aspect", 0, 100)) t.min_aspect = static_cast<float>(*v);
      if (auto v = tr.opt_number("max_aspect", 0, 100)) t.max_aspect = static_cast<float>(*v);
      if (auto v = tr.opt_int("cooldown_s", 0, 86400)) t.cooldown_s = static_cast<int>(*v);
      if (tr.has("zones")) {
        tr.allow("zones");
        if (auto st = read_polygons(val.as_object().at("zones"), f + ".zones", t.zones); !st) return st.error();
      }
      if (const auto* sched = tr.opt_array("schedule", 16)) {
        t.schedule.clear();
        for (const auto& w : *sched) {
          std::pair<int, int> win;
          if (!w.is_string() || !parse_window(std::string(w.as_string()), win))
            return Error::invalid(f + ".schedule", "invalid_schedule", "windows are \"HH:MM-HH:MM\" (local time)");
          t.schedule.push_back(win);
        }
      }
      if (auto st = tr.finish(); !st) return st.error();
      if (t.k > t.n) return Error::invalid(f + ".k", "invalid_k", "k must not exceed n");
      if (t.min_area > t.max_area) return Error::invalid(f + ".min_area", "invalid_area", "min_area > max_area");
      if (t.min_aspect > t.max_aspect)
        return Error::invalid(f + ".min_aspect", "invalid_aspect", "min_aspect > max_aspect");
      if (t.labels.empty()) return Error::invalid(f + ".labels", "no_labels", "a type needs the labels that raise it");
      c.types[code] = std::move(t);
    }
  }
  if (auto st = r.finish(); !st) return st.error();
  return c;
}

json::object camera_ai_to_json(const CameraAi& c) {
  json::object o;
  json::array models;
  for (const auto& m : c.models) models.emplace_back(m);
  o["models"] = std::move(models);
  o["rate"] = c.rate;
  o["motion"] =
      json::object{{"enabled", c.motion}, {"threshold", c.motion_threshold}, {"masks", polygons_json(c.motion_masks)}};
  json::object types;
  for (const auto& [code, t] : c.types) {
    json::array labels, sched;
    for (const auto& l : t.labels) labels.emplace_back(l);
    for (const auto& [a, b] : t.schedule) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "%02d:%02d-%02d:%02d", a / 60, a % 60, b / 60, b % 60);
      sched.emplace_back(buf);
    }
    types[code] = json::object{{"enabled", t.enabled},
                               {"labels", std::move(labels)},
                               {"min_score", dec(t.min_score)},
                               {"k", t.k},
                               {"n", t.n},
                               {"min_area", dec(t.min_area)},
                               {"max_area", dec(t.max_area)},
                               {"min_aspect", dec(t.min_aspect)},
                               {"max_aspect", dec(t.max_aspect)},
                               {"zones", polygons_json(t.zones)},
                               {"schedule", std::move(sched)},
                               {"cooldown_s", t.cooldown_s}};
  }
  o["types"] = std::move(types);
  return o;
}

std::vector<Firing> apply_rules(const CameraAi& cfg, const std::vector<Detection>& dets, cv::Size frame, TimeMs now,
                                int local_minute, RuleState& st) {
  std::vector<Firing> out;
  const float fw = static_cast<float>(std::max(frame.width, 1)), fh = static_cast<float>(std::max(frame.height, 1));
  for (const auto& [code, t] : cfg.types) {
    auto& hist = st.history[code];
    if (!t.enabled) {
      hist.clear();
      continue;
    }
    Firing f;
    f.type = code;
    const bool by_roster = t.against_roster && cfg.people_allowed.has_value();
    if (by_roster || in_schedule(t.schedule, local_minute)) {
      for (const auto& d : dets) {
        if (d.score < t.min_score) continue;
        if (std::find(t.labels.begin(), t.labels.end(), d.label) == t.labels.end()) continue;
        const float area = d.box.area() / (fw * fh);
        if (area < t.min_area || area > t.max_area) continue;
        const float aspect = d.box.height > 0 ? d.box.width / d.box.height : 0;
        if (aspect < t.min_aspect || aspect > t.max_aspect) continue;
        const cv::Point2f foot((d.box.x + d.box.width / 2) / fw, (d.box.y + d.box.height) / fh);
        if (!point_in_zones(t.zones, foot)) continue;
        if (t.held_by_person) {
          // a phone counts only in a person's hands: its centre inside a person's box
          const cv::Point2f c(d.box.x + d.box.width / 2, d.box.y + d.box.height / 2);
          bool held = std::any_of(dets.begin(), dets.end(), [&](const Detection& p) {
            return p.label == "person" && p.score >= 0.3f && p.box.contains(c);
          });
          if (!held) continue;
        }
        f.boxes.push_back(d);
        f.score = std::max(f.score, d.score);
      }
    }
    // with the roster: only more people than the staff on shift count
    if (by_roster && static_cast<int>(f.boxes.size()) <= *cfg.people_allowed) f.boxes.clear();
    hist.push_back(!f.boxes.empty());
    while (hist.size() > static_cast<size_t>(t.n)) hist.pop_front();
    const auto hits = std::count(hist.begin(), hist.end(), true);
    if (f.boxes.empty() || hits < t.k) continue;
    auto last = st.last_alert.find(code);
    if (last != st.last_alert.end() && now - last->second < static_cast<TimeMs>(t.cooldown_s) * 1000) continue;
    st.last_alert[code] = now;
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace mingchu::vision
