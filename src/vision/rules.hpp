// Rules: what turns detections into alerts, per camera and alert type (docs/vision.md).
//
// A camera's AI settings (GET/PATCH /api/v1/cameras/{id}/ai, table camera_ai) are JSON:
//   {models: [id], rate: frames/s, motion: {enabled, threshold, masks: [polygon]},
//    types: {code: {enabled, labels, min_score, k, n, min_area, max_area, min_aspect, max_aspect,
//                   zones: [polygon], schedule: ["HH:MM-HH:MM", ...], cooldown_s}}}
// with polygons as [[x, y], ...] normalised to 0..1 of the frame. Fields left out take the
// built-in defaults: animal (cat, dog, bird), phone_use (a cell phone inside a person's box),
// stranger (a person while the kitchen is closed, 22:00-06:00 local, or inside a zone; with the
// unit's roster: more people than the staff on shift).
//
// A type fires when, over the last n analysed frames, at least k had a box that passed its
// filters (score, area and aspect limits, zones by the box's bottom centre, the schedule),
// and not within cooldown_s of its last alert on that camera.
//
// Pure: no clock, no I/O; safe from any thread (a RuleState belongs to one thread).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/result.hpp"
#include "vision/detector.hpp"

namespace mingchu::vision {

using Polygon = std::vector<cv::Point2f>;  // normalised

struct TypeRule {
  bool enabled = true;
  std::vector<std::string> labels;
  float min_score = 0.5f;
  int k = 2, n = 3;
  float min_area = 0.0f, max_area = 1.0f;        // box area / frame area
  float min_aspect = 0.0f, max_aspect = 100.0f;  // width / height
  std::vector<Polygon> zones;                    // empty: anywhere
  std::vector<std::pair<int, int>> schedule;     // active windows, minutes of the local day; empty: always
  int cooldown_s = 300;
  bool held_by_person = false;  // phone_use: the box's centre must be inside a person's box
  // stranger: with the unit's roster, the type counts the boxes that pass and fires when there
  // are more than the staff on shift at that time (the roster replaces the schedule)
  bool against_roster = false;
};

// A unit's staff roster (PUT /api/v1/units/{id}/roster): shifts on ISO weekdays (1 = Monday)
// between local times (minutes; from > to wraps past midnight into the next day) with the staff
// on them.
struct Shift {
  std::vector<int> days;
  int from = 0, to = 0;
  std::vector<std::string> staff_ids;
};
struct Roster {
  std::vector<Shift> shifts;
  // how many distinct staff are on shift at that local weekday and minute
  int on_shift(int weekday, int minute) const;
};

struct CameraAi {
  std::vector<std::string> models = {"coco-ssdlite"};
  double rate = 2.0;  // analysed frames per second
  bool motion = true;
  int motion_threshold = 30;
  std::vector<Polygon> motion_masks;  // areas whose motion is ignored
  std::map<std::string, TypeRule> types;
  // set per frame by the pipeline from the unit's roster: the people allowed in the picture now
  std::optional<int> people_allowed;
};

// A roster from its JSON: [{days: [1..7], from: "HH:MM", to: "HH:MM", staff_ids: [...]}] (at most
// 50 shifts of 500 staff); 422 naming the field (shifts[i].days, ...). Staff ids are not looked up.
Result<Roster> parse_roster(const json::value& shifts);
json::array roster_to_json(const Roster& r);

// The built-in rules (every type the shipped model feeds).
CameraAi default_camera_ai();
// Settings from stored/PATCHed JSON over the defaults. known_type says which alert type codes
// exist (the taxonomy). 422 naming the field on anything invalid; unknown fields refused.
Result<CameraAi> parse_camera_ai(const json::object& o, const std::function<bool(const std::string&)>& known_type);
json::object camera_ai_to_json(const CameraAi& c);

// One type that fired on a frame.
struct Firing {
  std::string type;
  float score = 0;               // the best box's
  std::vector<Detection> boxes;  // the boxes that passed the filters
};

// What a camera's rules remember between frames.
struct RuleState {
  std::map<std::string, std::deque<bool>> history;
  std::map<std::string, TimeMs> last_alert;
};

// Applies the rules to one analysed frame. local_minute: minutes since local midnight.
std::vector<Firing> apply_rules(const CameraAi& cfg, const std::vector<Detection>& dets, cv::Size frame, TimeMs now,
                                int local_minute, RuleState& st);

bool in_schedule(const std::vector<std::pair<int, int>>& windows, int minute);
bool point_in_zones(const std::vector<Polygon>& zones, cv::Point2f p);

}  // namespace mingchu::vision
