// Content-addressed store for uploaded images and documents on the local disk. A file lives
// at root/ab/cd/abcd...(64 hex) where the name is the SHA-256 of its bytes, so storing the
// same bytes twice stores them once, and a name can never point outside the root.
//
// Ownership: the store owns nothing but its root path and limit; callers keep the returned
// StoredFile (its sha256 is the key to read the bytes back).
// Thread safety: every method may be called from any thread at once, and several processes
// may share one root. A put writes a temporary file in the target directory, fsyncs it,
// renames it into place and fsyncs the directory, so a reader sees the whole file or none,
// and concurrent puts of the same bytes each install an identical file.
// Failure: put() answers kInvalid "empty_file", kTooLarge "file_too_large", kUnsupported
// "unsupported_media_type" (the message names what was detected); a full disk is
// kUnavailable, other OS errors kInternal. read() answers kNotFound for an argument that is
// not 64 lowercase hex or names no stored file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mingchu::files {

struct StoredFile {
  std::string sha256;         // 64 lowercase hex: the file's id in the store
  std::string sm3;            // 64 lowercase hex: SM3 of the same bytes, for audit records
  std::uint64_t size = 0;     // bytes
  std::string content_type;   // as sniffed from the bytes, e.g. "image/jpeg"
  std::string relative_path;  // "ab/cd/<sha256>", relative to the store root
};

class FileStore {
 public:
  // root need not exist yet; it (and its parents) are created on the first put.
  // max_bytes bounds one file.
  FileStore(std::filesystem::path root, std::uint64_t max_bytes);

  // Stores bytes if their sniffed content type is in allowed_types (see files/sniff.hpp).
  Result<StoredFile> put(std::string_view bytes, const std::set<std::string>& allowed_types) const;
  // The bytes stored under sha256.
  Result<std::string> read(std::string_view sha256) const;
  bool exists(std::string_view sha256) const;

  const std::filesystem::path& root() const { return root_; }
  std::uint64_t max_bytes() const { return max_bytes_; }

  // True when s is 64 lowercase hex digits.
  static bool valid_sha256(std::string_view s);

 private:
  std::filesystem::path path_of(std::string_view sha256) const;

  std::filesystem::path root_;
  std::uint64_t max_bytes_;
};

}  // namespace mingchu::files
