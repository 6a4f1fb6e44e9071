#include "files/file_store.hpp"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "crypto/sm3.hpp"

namespace mingchu::files {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

const std::set<std::string> kImages = {"image/jpeg", "image/png", "image/webp"};

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "file_store_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string jpeg(std::string_view body = "pixels") { return "\xFF\xD8\xFF\xE0"s + std::string(body); }

  fs::path dir_;
};

TEST_F(FileStoreTest, PutStoresUnderItsHash) {
  FileStore store(dir_ / "files", 1 << 20);
  std::string bytes = jpeg();
  auto r = store.put(bytes, kImages);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->sha256, crypto::sha256_hex(bytes));
  EXPECT_EQ(r->sm3, crypto::sm3_hex(bytes));
  EXPECT_EQ(r->size, bytes.size());
  EXPECT_EQ(r->content_type, "image/jpeg");
  EXPECT_EQ(r->relative_path, r->sha256.substr(0, 2) + "/" + r->sha256.substr(2, 2) + "/" + r->sha256);
  fs::path on_disk = dir_ / "files" / r->relative_path;
  ASSERT_TRUE(fs::is_regular_file(on_disk));
  EXPECT_EQ(fs::file_size(on_disk), bytes.size());
  EXPECT_TRUE(store.exists(r->sha256));
  auto back = store.read(r->sha256);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, bytes);
}

TEST_F(FileStoreTest, CreatesMissingRootAndParents) {
  FileStore store(dir_ / "a" / "b" / "files", 1 << 20);
  ASSERT_TRUE(store.put(jpeg(), kImages));
}

TEST_F(FileStoreTest, PutIsIdempotent) {
  FileStore store(dir_, 1 << 20);
  auto a = store.put(jpeg(), kImages);
  auto b = store.put(jpeg(), kImages);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->sha256, b->sha256);
  EXPECT_EQ(a->relative_path, b->relative_path);
  // Exactly one file in its directory: no temporary files left behind.
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator((dir_ / a->relative_path).parent_path())) ++n;
  EXPECT_EQ(n, 1u);
}

TEST_F(FileStoreTest, RepairsATruncatedFile) {
  FileStore store(dir_, 1 << 20);
  auto a = store.put(jpeg(), kImages);
  ASSERT_TRUE(a);
  fs::resize_file(dir_ / a->relative_path, 2);
  ASSERT_TRUE(store.put(jpeg(), kImages));
  EXPECT_EQ(*store.read(a->sha256), jpeg());
}

TEST_F(FileStoreTest, EmptyFileIsInvalid) {
  FileStore store(dir_, 1 << 20);
  auto r = store.put("", kImages);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(r.error().code, "empty_file");
}

TEST_F(FileStoreTest, TooLarge) {
  FileStore store(dir_, 10);
  EXPECT_TRUE(store.put(jpeg("123456"), kImages));  // exactly 10 bytes
  auto r = store.put(jpeg("1234567"), kImages);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kTooLarge);
  EXPECT_EQ(r.error().code, "file_too_large");
}

TEST_F(FileStoreTest, UnsupportedTypeNamesWhatWasDetected) {
  FileStore store(dir_, 1 << 20);
  auto text = store.put("just some text pretending to be .jpg", kImages);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().kind, ErrorKind::kUnsupported);
  EXPECT_EQ(text.error().code, "unsupported_media_type");
  EXPECT_NE(text.error().message.find("not a recognised type"), std::string::npos);

  auto pdf = store.put("%PDF-1.7 ...", kImages);  // a real type, but not allowed here
  ASSERT_FALSE(pdf);
  EXPECT_EQ(pdf.error().code, "unsupported_media_type");
  EXPECT_NE(pdf.error().message.find("application/pdf"), std::string::npos);
  EXPECT_NE(pdf.error().message.find("image/png"), std::string::npos);

  EXPECT_TRUE(store.put("%PDF-1.7 ...", {"application/pdf"}));
  EXPECT_FALSE(store.put(jpeg(), {}));
}

TEST_F(FileStoreTest, ReadRefusesAnythingButLowercaseHex) {
  FileStore store(dir_, 1 << 20);
  auto a = store.put(jpeg(), kImages);
  ASSERT_TRUE(a);
  std::string upper = a->sha256;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (std::string bad : {std::string(""), std::string("../../etc/passwd"), a->sha256.substr(0, 63), a->sha256 + "0",
                          upper, "../" + a->sha256.substr(3), a->sha256.substr(0, 2) + "/" + a->sha256.substr(3),
                          std::string(64, 'g'), a->sha256.substr(0, 63) + "\0"s}) {
    if (bad == a->sha256) continue;  // upper-case hex that happens to have no letters
    auto r = store.read(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
    EXPECT_FALSE(store.exists(bad));
  }
}

TEST_F(FileStoreTest, ReadOfUnknownHashIsNotFound) {
  FileStore store(dir_, 1 << 20);
  auto r = store.read(std::string(64, 'a'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
  EXPECT_FALSE(store.exists(std::string(64, 'a')));
}

TEST_F(FileStoreTest, ValidSha256) {
  EXPECT_TRUE(FileStore::valid_sha256(std::string(64, '0')));
  EXPECT_TRUE(FileStore::valid_sha256(crypto::sha256_hex("x")));
  EXPECT_FALSE(FileStore::valid_sha256(std::string(64, 'A')));
  EXPECT_FALSE(FileStore::valid_sha256(std::string(65, '0')));
}

TEST_F(FileStoreTest, FilesAreNotWorldReadable) {
  FileStore store(dir_, 1 << 20);
  auto a = store.put(jpeg(), kImages);
  ASSERT_TRUE(a);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / a->relative_path).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u);
}

TEST_F(FileStoreTest, RootThatIsAFileIsAnInternalError) {
  std::ofstream(dir_ / "plain") << "x";
  FileStore store(dir_ / "plain", 1 << 20);
  auto r = store.put(jpeg(), kImages);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInternal);
}

TEST_F(FileStoreTest, ConcurrentPutsOfTheSameContent) {
  FileStore store(dir_, 1 << 22);
  std::string big = jpeg(std::string(1 << 20, 'q'));
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<int> ok(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto r = store.put(big, kImages);
        if (r) ++ok[t];
        auto back = store.read(crypto::sha256_hex(big));
        // Either not there yet or complete: never a partial file.
        if (back && *back != big) ok[t] = -1000;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int n : ok) EXPECT_EQ(n, 5);
  auto back = store.read(crypto::sha256_hex(big));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, big);
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::recursive_directory_iterator(dir_)) {
    if (e.is_regular_file()) ++n;
  }
  EXPECT_EQ(n, 1u);
}

TEST_F(FileStoreTest, ConcurrentPutsOfDifferentContent) {
  FileStore store(dir_, 1 << 20);
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> shas(kThreads * 20);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto r = store.put(jpeg("content " + std::to_string(t) + "/" + std::to_string(i)), kImages);
        if (r) shas[static_cast<size_t>(t * 20 + i)] = r->sha256;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < 20; ++i) {
      const std::string& sha = shas[static_cast<size_t>(t * 20 + i)];
      ASSERT_FALSE(sha.empty());
      auto back = store.read(sha);
      ASSERT_TRUE(back);
      EXPECT_EQ(*back, jpeg("content " + std::to_string(t) + "/" + std::to_string(i)));
    }
  }
}

}  // namespace
}  // namespace mingchu::files
