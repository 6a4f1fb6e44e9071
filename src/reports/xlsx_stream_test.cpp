// The streamed workbook is read back by two independent readers: Info-ZIP's `unzip -t` (the
// zip: local headers, data descriptors, CRCs, central directory) and openpyxl (the workbook:
// sheets, cell values and types), both from Debian packages.
#include "reports/xlsx_stream.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mingchu::reports {
namespace {

struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("mingchu_xlsx_" + std::to_string(getpid()) + "_" +
                                                std::to_string(reinterpret_cast<std::uintptr_t>(this)));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0) out += "\nexit " + std::to_string(rc);
  return out;
}

TEST(XlsxText, EscapesMarkupAndDropsWhatXmlForbids) {
  std::string out;
  xml_text(out, "a<b>&\"c\" \x01\x1f\t\n\xff\xc3\x28 好\xF0\x9F\x8D\x9C \xED\xA0\x80 \xC0\xAF");
  EXPECT_EQ(out, "a&lt;b&gt;&amp;&quot;c&quot; \t\n( 好\xF0\x9F\x8D\x9C  ");
  std::string longer(40000, 'x');
  out.clear();
  xml_text(out, longer);
  EXPECT_EQ(out.size(), 32767u);
}

TEST(XlsxText, SheetNamesAreValid) {
  EXPECT_EQ(sheet_name("告警[2026]/11:*?"), "告警202611");
  EXPECT_EQ(sheet_name(""), "Sheet");
  EXPECT_EQ(sheet_name("\xff\xfe"), "Sheet");
  EXPECT_EQ(sheet_name(std::string(40, 'a')), std::string(31, 'a'));
}

TEST(XlsxStream, UnzipAndOpenpyxlReadBackEveryRowAndSheet) {
  TempDir dir;
  auto file = dir.path / "out.xlsx";
  std::ofstream f(file, std::ios::binary);
  size_t pieces = 0;
  XlsxStream x(
      [&](std::string&& p) {
        ++pieces;
        f.write(p.data(), static_cast<std::streamsize>(p.size()));
        return true;
      },
      "告警 alerts", {{"编号", false, 12}, {"名称", false, 30}, {"数量", true, 8}}, 4096);
  x.rows_per_sheet(2500);  // so that 6000 rows need three sheets
  for (int i = 0; i < 6000; ++i) {
    std::string name = i % 7 == 0 ? "=HYPERLINK(\"x\")<&>" : "单位 " + std::to_string(i);
    std::string qty = i % 5 == 0 ? "n/a" : std::to_string(i) + ".5";
    ASSERT_TRUE(x.write_row({"A" + std::to_string(i), name, qty}));
  }
  ASSERT_TRUE(x.close()) << x.error();
  f.close();
  EXPECT_GT(pieces, 3u) << "the bytes leave in pieces while the rows are written";
  EXPECT_EQ(x.sheets(), 3);

  std::string t = run("unzip -tq " + file.string() + " 2>&1");
  EXPECT_NE(t.find("No errors detected"), std::string::npos) << t;

  auto py = dir.path / "read.py";
  std::ofstream(py) << R"PY(
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
print(len(wb.sheetnames), wb.sheetnames[0])
rows = []
for ws in wb.worksheets:
    it = ws.iter_rows(values_only=True)
    head = next(it)
    assert head == ('编号', '名称', '数量'), head
    rows += list(it)
print(len(rows))
print(repr(rows[0]), repr(rows[1]), repr(rows[5998]), repr(rows[5999]))
)PY";
  std::string r = run("/usr/bin/python3 " + py.string() + " " + file.string() + " 2>&1");
  std::istringstream in(r);
  std::string l1, l2, l3;
  std::getline(in, l1);
  std::getline(in, l2);
  std::getline(in, l3);
  EXPECT_EQ(l1, "3 告警 alerts") << r;
  EXPECT_EQ(l2, "6000") << r;
  EXPECT_EQ(l3, "('A0', '=HYPERLINK(\"x\")<&>', 'n/a') ('A1', '单位 1', 1.5) ('A5998', '单位 5998', 5998.5) ('A5999', '=HYPERLINK(\"x\")<&>', 5999.5)") << r;
}

TEST(XlsxStream, AnEmptyExportHasItsHeaderRow) {
  std::string bytes;
  XlsxStream x(
      [&](std::string&& p) {
        bytes += p;
        return true;
      },
      "s", {{"a", false, 8}});
  ASSERT_TRUE(x.close());
  EXPECT_EQ(x.sheets(), 1);
  EXPECT_EQ(bytes.substr(0, 2), "PK");
}

TEST(XlsxStream, AReaderThatGoesAwayStopsTheWriter) {
  int calls = 0;
  XlsxStream x([&](std::string&&) { return ++calls < 2; }, "s", {{"a", false, 8}}, 1024);
  bool ok = true;
  for (int i = 0; i < 100000 && ok; ++i) ok = x.write_row({"row " + std::to_string(i * 7919)});
  EXPECT_FALSE(ok);
  EXPECT_EQ(x.error(), "cancelled");
  EXPECT_FALSE(x.close());
}

}  // namespace
}  // namespace mingchu::reports
