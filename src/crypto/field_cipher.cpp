#include "crypto/field_cipher.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include "core/ids.hpp"
#include "crypto/base64.hpp"
#include "crypto/sm3.hpp"
#include "crypto/sm4_gcm.hpp"

namespace mingchu::crypto {
namespace {

constexpr std::string_view kIndexLabel = "mingchu/blind-index/v1\x01";
constexpr size_t kKeyHexChars = 32;

std::string_view view(const unsigned char* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

std::string aad_for(std::string_view context) {
  std::string aad(kFieldCipherPrefix);
  aad.append(context);
  return aad;
}

Error os_error(const std::string& what, const std::string& path, int err) {
  return Error::internal(what + " " + path + ": " + std::strerror(err));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the key file's content into key; false when it is not 32 hex chars (+ optional '\n').
bool parse_key_hex(std::string_view text, std::array<unsigned char, 16>& key) {
  if (text.size() == kKeyHexChars + 1 && text.back() == '\n') text.remove_suffix(1);
  if (text.size() != kKeyHexChars) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    int hi = hex_value(text[2 * i]);
    int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    key[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

// Reads at most max_bytes + 1 bytes of path into out (so a larger file is seen as larger).
// Returns 0 or the errno of the failure.
int read_small_file(const std::string& path, size_t max_bytes, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out.assign(max_bytes + 1, '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return err;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return 0;
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

int fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

// Writes a new random key to path unless a file is already there. Returns 0 when this
// call created it, EEXIST when someone else had, or another errno.
int create_key_file(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return ec.value();

  std::array<unsigned char, 16> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string text = to_hex(view(key.data(), key.size())) + "\n";
  OPENSSL_cleanse(key.data(), key.size());

  std::string tmp = path + ".tmp-" + random_hex(8);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    OPENSSL_cleanse(text.data(), text.size());
    return err;
  }
  int err = ::fchmod(fd, 0600) == 0 ? 0 : errno;  // in case a umask or ACL widened it
  if (err == 0) err = write_all(fd, text);
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  OPENSSL_cleanse(text.data(), text.size());
  if (err == 0) {
    // link() fails with EEXIST instead of replacing: two processes starting together must
    // not each keep a different key.
    if (::link(tmp.c_str(), path.c_str()) != 0) err = errno;
  }
  ::unlink(tmp.c_str());
  if (err == 0) err = fsync_dir(parent.string());
  return err;
}

}  // namespace

FieldCipher::~FieldCipher() {
  OPENSSL_cleanse(key_.data(), key_.size());
  OPENSSL_cleanse(index_key_.data(), index_key_.size());
}

Result<FieldCipher> FieldCipher::from_key(std::string_view key) {
  if (key.size() != kSm4KeyBytes) {
    return Error::invalid("key", "invalid_key_size", "field key must be 16 bytes");
  }
  FieldCipher c;
  std::memcpy(c.key_.data(), key.data(), c.key_.size());
  std::string derived = hmac_sha256(key, kIndexLabel);
  std::memcpy(c.index_key_.data(), derived.data(), c.index_key_.size());
  OPENSSL_cleanse(derived.data(), derived.size());
  return c;
}

Result<FieldCipher> FieldCipher::load_or_create(const std::string& key_file_path) {
  // Two rounds at most: if another process creates the file between our read and our
  // create, the second read finds its key.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string text;
    int err = read_small_file(key_file_path, kKeyHexChars + 1, text);
    if (err == 0) {
      std::array<unsigned char, 16> key{};
      bool good = parse_key_hex(text, key);
      OPENSSL_cleanse(text.data(), text.size());
      if (!good) {
        return Error::invalid("key_file", "malformed_key_file",
                              "key file " + key_file_path + " must hold exactly 32 hex characters");
      }
      auto c = from_key(view(key.data(), key.size()));
      OPENSSL_cleanse(key.data(), key.size());
      return c;
    }
    if (err != ENOENT) return os_error("cannot read key file", key_file_path, err);
    err = create_key_file(key_file_path);
    if (err != 0 && err != EEXIST) return os_error("cannot create key file", key_file_path, err);
  }
  return Error::internal("key file " + key_file_path + " vanished while being created");
}

std::string FieldCipher::encrypt(std::string_view plaintext, std::string_view context) const {
  std::array<unsigned char, kGcmIvBytes> iv{};
  if (RAND_bytes(iv.data(), static_cast<int>(iv.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  auto sealed =
      sm4_gcm_encrypt(view(key_.data(), key_.size()), view(iv.data(), iv.size()), plaintext, aad_for(context));
  if (!sealed) throw std::runtime_error("SM4-GCM encrypt failed: " + sealed.error().message);
  std::string raw(view(iv.data(), iv.size()));
  raw += sealed->ciphertext;
  raw += sealed->tag;
  std::string out(kFieldCipherPrefix);
  out += base64_encode(raw);
  return out;
}

Result<std::string> FieldCipher::decrypt(std::string_view text, std::string_view context) const {
  auto malformed = [](const char* why) {
    return Error::malformed("malformed_ciphertext", std::string("encrypted field is malformed: ") + why);
  };
  if (!looks_encrypted(text)) return malformed("missing sm4gcm1: prefix");
  auto raw = base64_decode(text.substr(kFieldCipherPrefix.size()));
  if (!raw) return malformed("invalid base64");
  if (raw->size() < kGcmIvBytes + kGcmTagBytes) return malformed("too short");
  std::string_view all(*raw);
  return sm4_gcm_decrypt(view(key_.data(), key_.size()), all.substr(0, kGcmIvBytes),
                         all.substr(kGcmIvBytes, all.size() - kGcmIvBytes - kGcmTagBytes),
                         all.substr(all.size() - kGcmTagBytes), aad_for(context));
}

std::string FieldCipher::blind_index(std::string_view value) const {
  return hmac_sha256_hex(view(index_key_.data(), index_key_.size()), value);
}

bool FieldCipher::looks_encrypted(std::string_view text) { return text.starts_with(kFieldCipherPrefix); }

}  // namespace mingchu::crypto
