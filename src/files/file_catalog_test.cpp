#include "files/file_catalog.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "storage/testing.hpp"

namespace mingchu::files {
namespace {

const std::string kPng("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
const std::string kJpeg("\xff\xd8\xff\xe0\0\x10JFIF", 10);

class FileCatalogTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = storage::open_test_database(GetParam());
    dir_ = std::filesystem::temp_directory_path() / ("mingchu-catalog-" + random_hex(6));
    store_ = std::make_unique<FileStore>(dir_, 64 * 1024);
    audit_ = std::make_unique<audit::AuditLog>(clock_);
    catalog_ = std::make_unique<FileCatalog>(*db_, *store_, clock_, *audit_);
    storage::Conn c = db_->acquire();
    auto node = [&](const std::string& id, const std::string& parent, const std::string& code,
                    const std::string& path) {
      c->exec(
          "INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) "
          "VALUES ($1, $2, 'district', $3, $1, $4, 0)",
          {id, parent.empty() ? storage::Value(nullptr) : storage::Value(parent), code, path});
    };
    node("jc", "", "320600", "/jc/");
    node("ja", "jc", "320602", "/jc/ja/");
    node("jb", "jc", "320612", "/jc/jb/");
    auto unit = [&](const std::string& id, const std::string& j, const std::string& path) {
      c->exec(
          "INSERT INTO units (id, jurisdiction_id, jpath, name, store_type, disclosure_token, created_at, "
          "updated_at) VALUES ($1, $2, $3, $1, 'other', $1, 0, 0)",
          {id, j, path});
    };
    unit("ua", "ja", "/jc/ja/");
    unit("ub", "jb", "/jc/jb/");
    admin_ = who("u_admin", auth::Role::kPlatformAdmin, "/", {});
    city_ = who("u_city", auth::Role::kRegulator, "/jc/", {});
    reg_a_ = who("u_rega", auth::Role::kRegulator, "/jc/ja/", {});
    reg_b_ = who("u_regb", auth::Role::kRegulator, "/jc/jb/", {});
    shop_a_ = who("u_shopa", auth::Role::kMerchant, "", {"ua"});
    shop_b_ = who("u_shopb", auth::Role::kMerchant, "", {"ub"});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static auth::Principal who(std::string id, auth::Role role, std::string jpath, std::vector<std::string> units) {
    auth::Principal p;
    p.user_id = id;
    p.username = id;
    p.role = role;
    p.jpath = std::move(jpath);
    p.unit_ids = std::move(units);
    return p;
  }

  ManualClock clock_{true};
  std::unique_ptr<storage::Database> db_;
  std::filesystem::path dir_;
  std::unique_ptr<FileStore> store_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<FileCatalog> catalog_;
  auth::Principal admin_, city_, reg_a_, reg_b_, shop_a_, shop_b_;
};

TEST_P(FileCatalogTest, UploadRecordsAndReadsBack) {
  auto f = catalog_->upload(reg_a_, kPng + "pixels", "licence.png", std::nullopt);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->content_type, "image/png");
  EXPECT_EQ(f->size, static_cast<std::int64_t>(kPng.size() + 6));
  EXPECT_EQ(f->sha256.size(), 64u);
  EXPECT_EQ(f->sm3.size(), 64u);
  EXPECT_EQ(f->jpath, "/jc/ja/");
  EXPECT_EQ(f->unit_id, "");
  auto back = catalog_->read(reg_a_, f->id);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->second, kPng + "pixels");
  json::object o = to_json(*f);
  EXPECT_EQ(o.size(), 5u);
  EXPECT_EQ(o.at("id").as_string(), f->id);
}

TEST_P(FileCatalogTest, TypeIsDecidedByTheBytes) {
  auto fake = catalog_->upload(reg_a_, "just some text", "photo.jpg", std::nullopt);
  ASSERT_FALSE(fake.ok());
  EXPECT_EQ(fake.error().kind, ErrorKind::kUnsupported);
  auto html = catalog_->upload(reg_a_, "<html><script>alert(1)</script>", "x.png", std::nullopt);
  EXPECT_EQ(html.error().kind, ErrorKind::kUnsupported);
  auto big = catalog_->upload(reg_a_, kJpeg + std::string(70 * 1024, 'x'), "big.jpg", std::nullopt);
  EXPECT_EQ(big.error().kind, ErrorKind::kTooLarge);
  auto pdf = catalog_->upload(reg_a_, "%PDF-1.4\n...", "report.pdf", std::nullopt);
  ASSERT_TRUE(pdf.ok());
  EXPECT_FALSE(pdf->is_image());
  // nothing was recorded for the refused uploads
  storage::Conn c = db_->acquire();
  EXPECT_EQ(c->query("SELECT COUNT(*) FROM files")[0].integer(0), 1);
}

TEST_P(FileCatalogTest, FileNamesNeverBecomePaths) {
  auto f = catalog_->upload(reg_a_, kJpeg, "../../../etc/passwd.jpg", std::nullopt);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->filename.find('/'), std::string::npos);
  EXPECT_EQ(f->filename.find(".."), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ / ".." / "etc"));
  auto windows = catalog_->upload(reg_a_, kJpeg, "C:\\Users\\x\\..\\a.jpg", std::nullopt);
  ASSERT_TRUE(windows.ok());
  EXPECT_EQ(windows->filename.find('\\'), std::string::npos);
}

TEST_P(FileCatalogTest, MerchantUploadsBelongToTheirUnit) {
  auto f = catalog_->upload(shop_a_, kJpeg + "a", "front.jpg", std::nullopt);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->unit_id, "ua");
  EXPECT_EQ(f->jpath, "/jc/ja/");
  EXPECT_TRUE(catalog_->get(shop_a_, f->id).ok());
  EXPECT_TRUE(catalog_->get(reg_a_, f->id).ok());
  EXPECT_TRUE(catalog_->get(city_, f->id).ok());
  EXPECT_TRUE(catalog_->get(admin_, f->id).ok());
  EXPECT_EQ(catalog_->get(shop_b_, f->id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(catalog_->read(reg_b_, f->id).error().kind, ErrorKind::kNotFound);

  // a unit outside the caller's scope is refused, naming the field
  auto other = catalog_->upload(shop_a_, kJpeg, "x.jpg", std::string("ub"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().field, "unit_id");
  EXPECT_EQ(catalog_->upload(reg_a_, kJpeg, "x.jpg", std::string("ub")).error().field, "unit_id");
  EXPECT_EQ(catalog_->upload(reg_a_, kJpeg, "x.jpg", std::string("../ua")).error().field, "unit_id");
  auto given = catalog_->upload(reg_a_, kJpeg, "x.jpg", std::string("ua"));
  ASSERT_TRUE(given.ok());
  EXPECT_TRUE(catalog_->get(shop_a_, given->id).ok());
}

TEST_P(FileCatalogTest, RegulatorUploadsAreVisibleInTheirSubtreeAndAbove) {
  auto f = catalog_->upload(reg_a_, kJpeg, "scan.jpg", std::nullopt);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(catalog_->get(city_, f->id).ok());
  EXPECT_EQ(catalog_->get(reg_b_, f->id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(catalog_->get(shop_a_, f->id).error().kind, ErrorKind::kNotFound);
  // until a unit claims it
  {
    storage::Conn c = db_->acquire();
    ASSERT_TRUE(FileCatalog::attach_to_unit(*c, f->id, "ua", "/jc/ja/").ok());
    EXPECT_EQ(FileCatalog::attach_to_unit(*c, "file_nope", "ua", "/jc/ja/").error().kind, ErrorKind::kNotFound);
  }
  EXPECT_TRUE(catalog_->get(shop_a_, f->id).ok());
  EXPECT_EQ(catalog_->get(admin_, "not a/valid id").error().kind, ErrorKind::kNotFound);
}

TEST_P(FileCatalogTest, UploadsAreAuditedWithoutTheirNames) {
  auto f = catalog_->upload(shop_a_, kJpeg, "张三身份证.jpg", std::nullopt);
  ASSERT_TRUE(f.ok());
  audit::AuditQuery q;
  q.action = "file.upload";
  auto [entries, total] = audit_->list(*db_, q);
  ASSERT_EQ(total, 1);
  EXPECT_EQ(entries[0].e.target, "file:" + f->id);
  EXPECT_EQ(entries[0].e.detail.find("张三"), std::string::npos);
  EXPECT_NE(entries[0].e.detail.find(f->sha256), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Engines, FileCatalogTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::files
