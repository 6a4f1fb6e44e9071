// Uploads (multipart/form-data, field "file", optional field "unit_id") and downloads of
// images and documents, through the FileCatalog (which decides type and access).
#include <functional>

#include "core/log.hpp"
#include "files/file_catalog.hpp"
#include "files/multipart.hpp"
#include "http/handler_util.hpp"

namespace mingchu::http {
namespace {

constexpr size_t kMaxParts = 8;
// Room for the multipart boundaries and part headers around a file of the maximum size.
constexpr size_t kMultipartOverhead = 16 * 1024;

Response upload(ApiContext& ctx, Request& req) {
  MC_TRY(who, authenticate(ctx, req));
  auto ct = req.header("content-type");
  if (!ct || ct->rfind("multipart/form-data", 0) != 0) {
    return Response::error(Error{
        ErrorKind::kUnsupported, "unsupported_media_type", "upload as multipart/form-data with a 'file' field", {}});
  }
  MC_TRY(parts, files::parse_multipart(*ct, req.body, kMaxParts));
  const files::MultipartPart* file = nullptr;
  std::optional<std::string> unit_id;
  for (const auto& part : *parts) {
    if (part.name == "file" && part.is_file && !file) {
      file = &part;
    } else if (part.name == "unit_id" && !part.is_file && !unit_id) {
      unit_id = part.data;
    } else {
      std::string name = part.name.size() > 64 ? part.name.substr(0, 64) : part.name;
      return Response::error(Error::invalid(name, "unknown_field", "unexpected form field '" + name + "'"));
    }
  }
  if (!file) return Response::error(Error::invalid("file", "missing_field", "form field 'file' (a file) is required"));
  if (file->data.size() > ctx.options.max_upload_bytes) {
    return Response::error(Error{ErrorKind::kTooLarge, "file_too_large",
                                 "the file is larger than " + std::to_string(ctx.options.max_upload_bytes) + " bytes",
                                 "file"});
  }
  if (unit_id && unit_id->empty()) unit_id.reset();
  MC_TRY(rec, ctx.files->upload(*who, file->data, file->filename, unit_id));
  return Response::json(201, files::to_json(*rec));
}

Response download(ApiContext& ctx, Request& req) {
  MC_TRY(who, authenticate(ctx, req));
  MC_TRY(id, path_id(req));
  MC_TRY(got, ctx.files->read(*who, *id));
  auto& [rec, bytes] = *got;
  Response resp;
  resp.headers.emplace_back("Cache-Control", "private, max-age=86400");
  resp.headers.emplace_back("ETag", "\"" + rec.sha256 + "\"");
  resp.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (req.header("if-none-match") == "\"" + rec.sha256 + "\"") {
    resp.status = 304;
    resp.content_type.clear();
    return resp;
  }
  resp.status = 200;
  resp.content_type = rec.content_type;
  resp.headers.emplace_back("Content-Disposition", "inline");
  resp.body = std::move(bytes);
  return resp;
}

}  // namespace

void add_file_routes(Router& r, ApiContext& ctx) {
  r.add(
      "POST", "/api/v1/files", [&ctx](Request& req) { return guarded([&] { return upload(ctx, req); }); },
      ctx.options.max_upload_bytes + kMultipartOverhead);
  r.add("GET", "/api/v1/files/{id}",
        [&ctx](Request& req) { return guarded([&] { return download(ctx, req); }); });
}

}  // namespace mingchu::http
