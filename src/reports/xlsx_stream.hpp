// A streaming XLSX writer: the workbook is produced front to back while its rows arrive, so a
// million-row export is sent as it is made, in constant memory, without a temporary file.
//
// An XLSX file is a zip of XML parts. ZipStream writes a zip whose entries are deflated (zlib,
// raw deflate) as they are written and whose sizes and CRC follow each entry in a data
// descriptor (general-purpose flag bit 3), which is what lets the bytes leave before the entry
// is complete; the central directory comes last. XlsxStream writes the worksheets first (inline
// strings: no shared-string table to hold), and the parts that name the sheets (workbook, its
// relationships, content types, styles) at the end, once the number of sheets is known.
//
// Why not libxlsxwriter (which the issue named): its constant-memory mode still writes the
// whole workbook to a temporary file and zips it at workbook_close(), so the client waits for
// the last row before the first byte, and it managed 37 000 rows/s on this machine
// (bench/run_reports.sh); this writer streams and is several times faster.
//
// Limits: an entry's uncompressed size and the archive stay below 4 GiB (no zip64 records);
// a sheet is closed and a new one begun at 1 000 000 rows or 3 GiB of XML, and write_row()
// fails cleanly ("export_too_large") when the archive would pass 4 GiB.
//
// Threads: one thread uses an instance.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mingchu::reports {

// Where the zip's bytes go; false stops the writer (the reader went away).
using ByteSink = std::function<bool(std::string&&)>;

class ZipStream {
 public:
  // level: zlib level (1 = fastest). Pieces of about piece_bytes are handed to sink.
  ZipStream(ByteSink sink, int level, size_t piece_bytes);
  ~ZipStream();
  ZipStream(const ZipStream&) = delete;
  ZipStream& operator=(const ZipStream&) = delete;

  bool begin(std::string name);
  bool write(std::string_view data);
  bool end();     // the entry's data descriptor
  bool finish();  // the central directory and its end record; flushes
  std::uint64_t entry_bytes() const { return usize_; }  // uncompressed bytes of the open entry
  std::uint64_t offset() const { return offset_; }       // compressed bytes so far
  const std::string& error() const { return error_; }

 private:
  struct Entry {
    std::string name;
    std::uint32_t crc = 0, csize = 0, usize = 0, offset = 0;
  };
  bool emit(std::string_view bytes);
  bool deflate_some(int flush);
  bool flush_out();
  bool fail(std::string why);

  ByteSink sink_;
  size_t piece_;
  std::string out_;
  z_stream z_{};
  bool z_ready_ = false;
  std::vector<Entry> entries_;
  bool open_ = false;
  std::uint32_t crc_ = 0;
  std::uint64_t usize_ = 0, csize_ = 0, offset_ = 0;
  std::uint16_t dos_time_ = 0, dos_date_ = 0;
  std::string error_;
  std::vector<unsigned char> zbuf_;
};

struct XlsxColumn {
  std::string title;
  bool number = false;  // cells that parse as a finite decimal number are written as numbers
  double width = 16;
};

class XlsxStream {
 public:
  static constexpr std::int64_t kRowsPerSheet = 1'000'000;
  static constexpr std::uint64_t kSheetBytes = 3ull << 30;

  XlsxStream(ByteSink sink, std::string sheet_name, std::vector<XlsxColumn> columns, size_t piece_bytes = 64 * 1024,
             int level = 1);
  void rows_per_sheet(std::int64_t n) { rows_per_sheet_ = n; }  // kRowsPerSheet unless a test says
  bool write_row(const std::vector<std::string>& cells);
  bool close();  // false with error() when anything failed
  const std::string& error() const { return zip_.error().empty() ? error_ : zip_.error(); }
  int sheets() const { return sheets_; }

 private:
  bool open_sheet();
  bool close_sheet();
  void cell(std::string& x, size_t col, std::string_view v, bool header);

  ZipStream zip_;
  std::string sheet_name_;
  std::vector<XlsxColumn> cols_;
  std::vector<std::string> letters_;
  std::string row_xml_;
  std::string buf_;
  std::int64_t rows_per_sheet_ = kRowsPerSheet;
  std::int64_t row_ = 0;  // rows written in the open sheet, header included
  int sheets_ = 0;
  bool sheet_open_ = false;
  std::string error_;
};

// Text as XML character data: & < > " escaped, characters XML 1.0 forbids (controls other than
// tab/LF/CR, invalid UTF-8) dropped; at most 32 767 characters (Excel's limit for a cell).
void xml_text(std::string& out, std::string_view v);

// A valid sheet name: at most 31 characters, none of []:*?/\ , never empty.
std::string sheet_name(std::string_view s);

}  // namespace mingchu::reports
