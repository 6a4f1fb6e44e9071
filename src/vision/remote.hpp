// `mingchu vision --server URL --api-key K`: the algorithm server on another machine
// (docs/vision.md "Remote mode"). The same pipeline (VisionService, Analyser) as in the server,
// with a FrameFeed and an AlertSink that speak the platform's HTTP API:
//   - cameras: GET /api/v1/cameras (every page), those with ai_enabled, and each one's
//     GET /api/v1/cameras/{id}/ai;
//   - frames: the server's live HTTP-FLV (POST /api/v1/cameras/{id}/live, quality "sd": the sub
//     stream when the camera has one), pulled by one thread per analysed camera that keeps the
//     newest GOP, reopened when it breaks or its token expires. Not the camera's RTSP: its address
//     and password stay on the server, the camera is pulled once (by the media core) however
//     many consumers there are, and GB/T 28181 cameras, which have no RTSP, work the same;
//   - events: POST /api/v1/ingest/alerts (the frame as snapshot_base64, the boxes, the model),
//     the same path as AI boxes; event ids are the in-server ones, so a retry is idempotent.
// The API key needs the permissions ingest, read and write (write: opening live streams) and a
// scope covering the cameras. Uploaded models assigned to the cameras are fetched from the server
// (file and class map) and run as in the server.
//
// Threads: the feed's pullers are its own; cameras()/next_frame() from the pipeline's workers;
// the sink posts on the calling worker (bounded by a 10 s timeout).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "vision/vision_service.hpp"

namespace mingchu::vision {

struct RemoteOptions {
  std::string server;   // http://host:port (no trailing slash needed)
  std::string api_key;  // X-Api-Key
  int max_width = 640;
  int timeout_ms = 10000;
  std::filesystem::path cache_dir;  // uploaded models fetched; empty: <model dir>/remote
};

// The platform's answer to a request: status and body (transport failures are errors).
struct RemoteReply {
  long status = 0;
  std::string body;
};
Result<RemoteReply> remote_request(const RemoteOptions& o, const std::string& method, const std::string& path,
                                   const std::string& json_body = {});

std::unique_ptr<FrameFeed> make_remote_feed(RemoteOptions o);
// Uploaded models from the server (GET /api/v1/vision/models/{id}, .../file, .../classmap), kept
// content-addressed in cache_dir (<sha256>.onnx, fetched once, checked against the digest).
ModelLoader make_remote_model_loader(RemoteOptions o, std::filesystem::path cache_dir);
std::unique_ptr<AlertSink> make_remote_sink(RemoteOptions o);

// The ingest API's JSON for an event (what IngestService::submit takes in-process).
json::object event_to_json(const ingest::AlertEvent& ev);

struct RemoteArgs {
  RemoteOptions remote;
  VisionConfig vision;
};
// Checks the server and the key (GET /api/v1/cameras), then runs until SIGINT/SIGTERM. Exit
// code: 0 after a signal, 2 for bad arguments, 3 when the server refuses the key.
int remote_command(RemoteArgs a);

}  // namespace mingchu::vision
