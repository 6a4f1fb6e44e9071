#include "core/result.hpp"

namespace mingchu {

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kMalformed: return 400;
    case ErrorKind::kUnauthorized: return 401;
    case ErrorKind::kForbidden: return 403;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kConflict: return 409;
    case ErrorKind::kTooLarge: return 413;
    case ErrorKind::kUnsupported: return 415;
    case ErrorKind::kInvalid: return 422;
    case ErrorKind::kLocked: return 423;
    case ErrorKind::kRateLimited: return 429;
    case ErrorKind::kUnavailable: return 503;
    case ErrorKind::kInternal: return 500;
  }
  return 500;
}

}  // namespace mingchu
