#include "reports/xlsx_stream.hpp"

#include <cmath>
#include <cstdlib>
#include <ctime>

namespace mingchu::reports {

namespace {

void put16(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}

constexpr std::uint32_t kLocalSig = 0x04034b50, kDescSig = 0x08074b50, kCentralSig = 0x02014b50,
                        kEndSig = 0x06054b50;
constexpr std::uint16_t kFlags = 0x0008 | 0x0800;  // sizes in a data descriptor; UTF-8 names
constexpr std::uint64_t kZipLimit = 0xFFFFFFFFull;

}  // namespace

ZipStream::ZipStream(ByteSink sink, int level, size_t piece_bytes)
    : sink_(std::move(sink)), piece_(piece_bytes), zbuf_(64 * 1024) {
  if (deflateInit2(&z_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK) z_ready_ = true;
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  dos_time_ = static_cast<std::uint16_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
  dos_date_ = static_cast<std::uint16_t>(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
  out_.reserve(piece_ + 1024);
}

ZipStream::~ZipStream() {
  if (z_ready_) deflateEnd(&z_);
}

bool ZipStream::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return false;
}

bool ZipStream::emit(std::string_view bytes) {
  if (!error_.empty()) return false;
  if (offset_ + bytes.size() > kZipLimit) return fail("export_too_large: the workbook would pass 4 GiB");
  out_.append(bytes);
  offset_ += bytes.size();
  if (out_.size() >= piece_) return flush_out();
  return true;
}

bool ZipStream::flush_out() {
  if (out_.empty()) return error_.empty();
  std::string p;
  p.swap(out_);
  out_.reserve(piece_ + 1024);
  if (!sink_(std::move(p))) return fail("cancelled");
  return true;
}

bool ZipStream::begin(std::string name) {
  if (!z_ready_) return fail("zlib could not start");
  if (open_ && !end()) return false;
  if (offset_ > kZipLimit) return fail("export_too_large: the workbook would pass 4 GiB");
  Entry e;
  e.name = std::move(name);
  e.offset = static_cast<std::uint32_t>(offset_);
  std::string h;
  put32(h, kLocalSig);
  put16(h, 20);  // version needed: deflate
  put16(h, kFlags);
  put16(h, 8);  // deflate
  put16(h, dos_time_);
  put16(h, dos_date_);
  put32(h, 0);  // crc, sizes: in the descriptor
  put32(h, 0);
  put32(h, 0);
  put16(h, static_cast<std::uint32_t>(e.name.size()));
  put16(h, 0);
  h += e.name;
  entries_.push_back(std::move(e));
  crc_ = static_cast<std::uint32_t>(crc32(0L, Z_NULL, 0));
  usize_ = csize_ = 0;
  deflateReset(&z_);
  open_ = true;
  return emit(h);
}

bool ZipStream::deflate_some(int flush) {
  for (;;) {
    z_.next_out = zbuf_.data();
    z_.avail_out = static_cast<uInt>(zbuf_.size());
    int r = deflate(&z_, flush);
    if (r == Z_STREAM_ERROR) return fail("deflate failed");
    size_t n = zbuf_.size() - z_.avail_out;
    csize_ += n;
    if (n && !emit(std::string_view(reinterpret_cast<const char*>(zbuf_.data()), n))) return false;
    if (flush == Z_FINISH) {
      if (r == Z_STREAM_END) return true;
    } else if (z_.avail_in == 0 && z_.avail_out != 0) {
      return true;
    }
  }
}

bool ZipStream::write(std::string_view data) {
  if (!open_) return fail("no open zip entry");
  if (data.empty()) return true;
  if (usize_ + data.size() > kZipLimit) return fail("export_too_large: a part would pass 4 GiB");
  crc_ = static_cast<std::uint32_t>(crc32(crc_, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  usize_ += data.size();
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z_.avail_in = static_cast<uInt>(data.size());
  return deflate_some(Z_NO_FLUSH);
}

bool ZipStream::end() {
  if (!open_) return true;
  open_ = false;
  z_.next_in = nullptr;
  z_.avail_in = 0;
  if (!deflate_some(Z_FINISH)) return false;
  auto& e = entries_.back();
  e.crc = crc_;
  e.csize = static_cast<std::uint32_t>(csize_);
  e.usize = static_cast<std::uint32_t>(usize_);
  std::string d;
  put32(d, kDescSig);
  put32(d, e.crc);
  put32(d, e.csize);
  put32(d, e.usize);
  return emit(d);
}

bool ZipStream::finish() {
  if (open_ && !end()) return false;
  std::uint64_t cd_start = offset_;
  std::string cd;
  for (const auto& e : entries_) {
    put32(cd, kCentralSig);
    put16(cd, (3 << 8) | 20);  // made by: Unix, 2.0
    put16(cd, 20);
    put16(cd, kFlags);
    put16(cd, 8);
    put16(cd, dos_time_);
    put16(cd, dos_date_);
    put32(cd, e.crc);
    put32(cd, e.csize);
    put32(cd, e.usize);
    put16(cd, static_cast<std::uint32_t>(e.name.size()));
    put16(cd, 0);  // extra
    put16(cd, 0);  // comment
    put16(cd, 0);  // disk
    put16(cd, 0);  // internal attributes
    put32(cd, 0100644u << 16);  // external: a regular file, rw-r--r--
    put32(cd, e.offset);
    cd += e.name;
  }
  if (cd_start + cd.size() + 22 > kZipLimit) return fail("export_too_large: the workbook would pass 4 GiB");
  const auto cd_size = static_cast<std::uint32_t>(cd.size());
  put32(cd, kEndSig);
  put16(cd, 0);
  put16(cd, 0);
  put16(cd, static_cast<std::uint32_t>(entries_.size()));
  put16(cd, static_cast<std::uint32_t>(entries_.size()));
  put32(cd, cd_size);
  put32(cd, static_cast<std::uint32_t>(cd_start));
  put16(cd, 0);
  return emit(cd) && flush_out();
}

void xml_text(std::string& out, std::string_view v) {
  size_t chars = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  size_t n = v.size();
  for (size_t i = 0; i < n && chars < 32767;) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') continue;
      ++chars;
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += static_cast<char>(c);
      }
      continue;
    }
    // a multi-byte sequence: copied when it is valid UTF-8 of a character XML allows
    size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? (c <= 0xEF ? 3 : 0) : (c >= 0xC2 && c <= 0xDF ? 2 : 0);
    if (len == 0 || i + len > n) {
      ++i;
      continue;
    }
    std::uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    bool ok = true;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    bool shortest = (len == 3 && cp >= 0x800) || (len == 4 && cp >= 0x10000 && cp <= 0x10FFFF) || len == 2;
    if (!ok || !shortest || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) {
      ++i;
      continue;
    }
    out.append(v.substr(i, len));
    i += len;
    chars += cp >= 0x10000 ? 2 : 1;  // Excel counts UTF-16 units
  }
}

std::string sheet_name(std::string_view s) {
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < s.size() && chars < 31;) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    std::string_view ch = s.substr(i, len);
    i += len;
    if (len == 1 && (c < 0x20 || std::string_view("[]:*?/\\'").find(static_cast<char>(c)) != std::string_view::npos)) {
      continue;
    }
    std::string esc;
    xml_text(esc, ch);
    if (esc.empty()) continue;  // an invalid sequence
    out.append(ch);
    ++chars;
  }
  return out.empty() ? "Sheet" : out;
}

XlsxStream::XlsxStream(ByteSink sink, std::string sheet_name_in, std::vector<XlsxColumn> columns, size_t piece_bytes,
                       int level)
    : zip_(std::move(sink), level, piece_bytes), sheet_name_(sheet_name(sheet_name_in)), cols_(std::move(columns)) {
  for (size_t i = 0; i < cols_.size(); ++i) {
    std::string l;
    for (size_t n = i + 1; n > 0; n = (n - 1) / 26) l.insert(l.begin(), static_cast<char>('A' + (n - 1) % 26));
    letters_.push_back(std::move(l));
  }
  buf_.reserve(128 * 1024);
}

void XlsxStream::cell(std::string& x, size_t col, std::string_view v, bool header) {
  if (v.empty()) return;
  const std::string& ref = letters_[col];
  std::string r = std::to_string(row_ + 1);
  if (!header && cols_[col].number && v.size() < 32 &&
      v.find_first_not_of("0123456789+-.eE") == std::string_view::npos) {
    std::string t(v);
    char* end = nullptr;
    double d = std::strtod(t.c_str(), &end);
    if (end && *end == '\0' && std::isfinite(d)) {
      x += "<c r=\"";
      x += ref;
      x += r;
      x += "\"><v>";
      x += t;
      x += "</v></c>";
      return;
    }
  }
  x += "<c r=\"";
  x += ref;
  x += r;
  x += header ? "\" s=\"1\" t=\"inlineStr\"><is><t" : "\" t=\"inlineStr\"><is><t";
  if (v.front() == ' ' || v.back() == ' ' || v.front() == '\n' || v.back() == '\n') x += " xml:space=\"preserve\"";
  x += '>';
  xml_text(x, v);
  x += "</t></is></c>";
}

bool XlsxStream::open_sheet() {
  ++sheets_;
  if (!zip_.begin("xl/worksheets/sheet" + std::to_string(sheets_) + ".xml")) return false;
  std::string h =
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
      "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
      "<sheetViews><sheetView workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" "
      "state=\"frozen\"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight=\"15\"/>";
  if (!cols_.empty()) {
    h += "<cols>";
    for (size_t i = 0; i < cols_.size(); ++i) {
      char w[32];
      std::snprintf(w, sizeof w, "%.2f", cols_[i].width > 0 && cols_[i].width < 255 ? cols_[i].width : 16.0);
      h += "<col min=\"" + std::to_string(i + 1) + "\" max=\"" + std::to_string(i + 1) + "\" width=\"" + w +
           "\" customWidth=\"1\"/>";
    }
    h += "</cols>";
  }
  h += "<sheetData>";
  row_ = 0;
  h += "<row r=\"1\">";
  for (size_t i = 0; i < cols_.size(); ++i) cell(h, i, cols_[i].title, true);
  h += "</row>";
  row_ = 1;
  sheet_open_ = true;
  return zip_.write(h);
}

bool XlsxStream::close_sheet() {
  if (!sheet_open_) return true;
  sheet_open_ = false;
  buf_ += "</sheetData></worksheet>";
  bool ok = zip_.write(buf_);
  buf_.clear();
  return ok && zip_.end();
}

bool XlsxStream::write_row(const std::vector<std::string>& cells) {
  if (!sheet_open_ || row_ > rows_per_sheet_ || zip_.entry_bytes() + buf_.size() > kSheetBytes) {
    if (sheet_open_ && !close_sheet()) return false;
    if (!open_sheet()) return false;
  }
  buf_ += "<row r=\"";
  buf_ += std::to_string(row_ + 1);
  buf_ += "\">";
  for (size_t i = 0; i < cols_.size() && i < cells.size(); ++i) cell(buf_, i, cells[i], false);
  buf_ += "</row>";
  ++row_;
  if (buf_.size() >= 64 * 1024) {
    bool ok = zip_.write(buf_);
    buf_.clear();
    return ok;
  }
  return true;
}

bool XlsxStream::close() {
  if (!sheet_open_ && sheets_ == 0 && !open_sheet()) return false;  // an empty export: the header row
  if (!close_sheet()) return false;
  std::string workbook =
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
      "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
      "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>";
  std::string rels =
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
      "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">";
  std::string types =
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
      "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
      "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
      "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
      "<Override PartName=\"/xl/workbook.xml\" "
      "ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>"
      "<Override PartName=\"/xl/styles.xml\" "
      "ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>";
  for (int i = 1; i <= sheets_; ++i) {
    std::string n = std::to_string(i);
    std::string title = i == 1 ? sheet_name_ : sheet_name(sheet_name_.substr(0, 24) + " " + n);
    workbook += "<sheet name=\"";
    xml_text(workbook, title);
    workbook += "\" sheetId=\"" + n + "\" r:id=\"rId" + n + "\"/>";
    rels += "<Relationship Id=\"rId" + n +
            "\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" "
            "Target=\"worksheets/sheet" + n + ".xml\"/>";
    types += "<Override PartName=\"/xl/worksheets/sheet" + n +
             ".xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>";
  }
  workbook += "</sheets></workbook>";
  rels += "<Relationship Id=\"rId" + std::to_string(sheets_ + 1) +
          "\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" "
          "Target=\"styles.xml\"/></Relationships>";
  types += "</Types>";
  const std::string styles =
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
      "<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
      "<fonts count=\"2\"><font><sz val=\"11\"/><name val=\"Calibri\"/></font>"
      "<font><b/><sz val=\"11\"/><name val=\"Calibri\"/></font></fonts>"
      "<fills count=\"3\"><fill><patternFill patternType=\"none\"/></fill>"
      "<fill><patternFill patternType=\"gray125\"/></fill>"
      "<fill><patternFill patternType=\"solid\"><fgColor rgb=\"FFDDE7F5\"/><bgColor indexed=\"64\"/></patternFill>"
      "</fill></fills>"
      "<borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>"
      "<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>"
      "<cellXfs count=\"2\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>"
      "<xf numFmtId=\"0\" fontId=\"1\" fillId=\"2\" borderId=\"0\" xfId=\"0\" applyFont=\"1\" applyFill=\"1\"/>"
      "</cellXfs><cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles>"
      "</styleSheet>";
  const std::string root_rels =
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
      "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
      "<Relationship Id=\"rId1\" "
      "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" "
      "Target=\"xl/workbook.xml\"/></Relationships>";
  auto part = [&](const char* name, const std::string& body) {
    return zip_.begin(name) && zip_.write(body) && zip_.end();
  };
  return part("xl/workbook.xml", workbook) && part("xl/_rels/workbook.xml.rels", rels) &&
         part("xl/styles.xml", styles) && part("_rels/.rels", root_rels) && part("[Content_Types].xml", types) &&
         zip_.finish();
}

}  // namespace mingchu::reports
