// GET /api/v1/vision/samples (reviewed alerts as a YOLO data set, a zip) and
// GET /api/v1/vision/models/{id}/feedback (precision per day from the reviews); see the .cpp.
#pragma once

#include "http/api.hpp"

namespace mingchu::http {

void add_vision_sample_routes(Router& r, ApiContext& ctx);
// GET/PUT /api/v1/units/{id}/roster (roster_handlers.cpp): the staff on shift, for `stranger`.
void add_roster_routes(Router& r, ApiContext& ctx);
// The newest evaluator report posted for a model ({id, dataset, classes, created_at}) or null.
json::value latest_evaluation(ApiContext& ctx, const std::string& model_id);

}  // namespace mingchu::http
