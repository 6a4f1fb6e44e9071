#include "files/file_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <sys/stat.h>

#include "core/ids.hpp"
#include "crypto/sm3.hpp"
#include "files/sniff.hpp"

namespace mingchu::files {
namespace {

namespace fs = std::filesystem;

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error close() may carry for a written file.
  int close_now() {
    int rc = ::close(fd_) == 0 ? 0 : errno;
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Error os_error(const std::string& what, const fs::path& path, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return Error::unavailable("file store is full: " + what + " " + path.string() + ": " + std::strerror(err));
  }
  return Error::internal(what + " " + path.string() + ": " + std::strerror(err));
}

int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

int fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return errno;
  return ::fsync(fd.get()) == 0 ? 0 : errno;
}

// Makes dir if missing. created is set when this call made it (its parent then needs an
// fsync for the new entry to survive a power cut).
int ensure_dir(const fs::path& dir, bool& created) {
  created = false;
  if (::mkdir(dir.c_str(), 0750) == 0) {
    created = true;
    return 0;
  }
  if (errno != EEXIST) return errno;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return errno;
  return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

FileStore::FileStore(fs::path root, std::uint64_t max_bytes) : root_(std::move(root)), max_bytes_(max_bytes) {}

bool FileStore::valid_sha256(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

fs::path FileStore::path_of(std::string_view sha) const {
  return root_ / std::string(sha.substr(0, 2)) / std::string(sha.substr(2, 2)) / std::string(sha);
}

Result<StoredFile> FileStore::put(std::string_view bytes, const std::set<std::string>& allowed_types) const {
  if (bytes.empty()) return Error::invalid("file", "empty_file", "the file is empty");
  if (bytes.size() > max_bytes_) {
    return Error{ErrorKind::kTooLarge, "file_too_large",
                 "the file is " + std::to_string(bytes.size()) + " bytes; the limit is " + std::to_string(max_bytes_),
                 "file"};
  }
  auto type = sniff_content_type(bytes);
  if (!type || !allowed_types.contains(*type)) {
    return Error{ErrorKind::kUnsupported, "unsupported_media_type",
                 "the file's content is " + (type ? *type : std::string("not a recognised type")) +
                     "; allowed: " + join(allowed_types),
                 "file"};
  }

  StoredFile out;
  out.sha256 = crypto::sha256_hex(bytes);
  out.sm3 = crypto::sm3_hex(bytes);
  out.size = bytes.size();
  out.content_type = *type;
  out.relative_path = out.sha256.substr(0, 2) + "/" + out.sha256.substr(2, 2) + "/" + out.sha256;

  const fs::path final_path = path_of(out.sha256);
  struct stat st {};
  if (::stat(final_path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<std::uint64_t>(st.st_size) == out.size) {
    return out;  // already stored: the name is the content
  }

  const fs::path level1 = root_ / out.sha256.substr(0, 2);
  const fs::path dir = level1 / out.sha256.substr(2, 2);
  // Create root, level1, dir in turn; each one created needs its parent fsynced.
  std::array<fs::path, 3> chain = {root_, level1, dir};
  std::array<bool, 3> created{};
  if (std::error_code ec; root_.has_parent_path()) {
    fs::create_directories(root_.parent_path(), ec);  // a failure shows in ensure_dir below
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    if (int err = ensure_dir(chain[i], created[i]); err != 0) return os_error("cannot create directory", chain[i], err);
  }

  const fs::path tmp = dir / (".tmp-" + random_hex(8));
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (fd.get() < 0) return os_error("cannot create", tmp, errno);
  int err = write_all(fd.get(), bytes);
  if (err == 0 && ::fsync(fd.get()) != 0) err = errno;
  if (int close_err = fd.close_now(); err == 0) err = close_err;
  // rename() replaces atomically: a concurrent put of the same bytes may win the race, and
  // either way the file in place is complete and identical.
  if (err == 0 && ::rename(tmp.c_str(), final_path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return os_error("cannot write", final_path, err);
  }
  if (int e = fsync_dir(dir); e != 0) return os_error("cannot sync directory", dir, e);
  for (size_t i = chain.size(); i-- > 0;) {
    if (!created[i]) continue;
    fs::path parent = i == 0 ? root_.parent_path() : chain[i - 1];
    if (parent.empty()) parent = ".";
    if (int e = fsync_dir(parent); e != 0) return os_error("cannot sync directory", parent, e);
  }
  return out;
}

Result<std::string> FileStore::read(std::string_view sha256) const {
  if (!valid_sha256(sha256)) return Error::not_found("file");
  const fs::path p = path_of(sha256);
  Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Error::not_found("file");
    return os_error("cannot open", p, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return os_error("cannot stat", p, errno);
  if (!S_ISREG(st.st_mode)) return Error::not_found("file");
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  std::array<char, 64 * 1024> buf;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("cannot read", p, errno);
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  return out;
}

bool FileStore::exists(std::string_view sha256) const {
  if (!valid_sha256(sha256)) return false;
  struct stat st {};
  return ::stat(path_of(sha256).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace mingchu::files
