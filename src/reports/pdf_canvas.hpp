// PdfCanvas: one A4 PDF document drawn in-process with cairo, its text laid out by pango in the
// Noto CJK fonts (Debian fonts-noto-cjk). Text is real text with embedded subset fonts, so a
// reader selects and searches it in Chinese (pdftotext finds a unit's name); charts, boxes,
// QR codes and seals are vector paths; JPEG snapshots are embedded as they are (no re-encode).
//
// Coordinates are PDF points (1/72 inch) from the top-left corner of the current page.
// Ownership: the canvas owns its cairo surface and context; finish() ends the document and
// returns its bytes, after which the canvas must not be drawn on. One thread at a time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

typedef struct _cairo cairo_t;
typedef struct _cairo_surface cairo_surface_t;

namespace mingchu::reports {

struct Rgb {
  double r = 0, g = 0, b = 0;
};
inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kRed{0.80, 0.0, 0.0};  // the red of a 红头文件's header and rule
inline constexpr Rgb kGrey{0.45, 0.45, 0.45};
inline constexpr Rgb kLightGrey{0.88, 0.88, 0.88};

enum class Align { kLeft, kCenter, kRight };

struct TextStyle {
  double size = 12;  // points
  bool bold = false;
  bool serif = false;  // Noto Serif CJK SC (documents' body) or Noto Sans CJK SC
  Rgb color = kBlack;
  Align align = Align::kLeft;
  double letter_spacing = 0;  // points, for wide-spaced headers
};

// The size of an image, read from its header (JPEG SOF or PNG IHDR); nullopt otherwise.
struct ImageSize {
  int width = 0, height = 0;
  bool jpeg = false;
};
std::optional<ImageSize> image_size(std::string_view bytes);

// Where an image was drawn (after fitting it into the box with its aspect ratio kept).
struct Placed {
  double x = 0, y = 0, w = 0, h = 0;
  double scale = 1;  // points per source pixel
};

class PdfCanvas {
 public:
  static constexpr double kWidth = 595.28;   // A4
  static constexpr double kHeight = 841.89;
  static constexpr double kMargin = 62;      // ~22 mm

  // title and author go into the document's metadata.
  PdfCanvas(std::string_view title, std::string_view author);
  ~PdfCanvas();
  PdfCanvas(const PdfCanvas&) = delete;
  PdfCanvas& operator=(const PdfCanvas&) = delete;

  // Draws text wrapped to width (x is the left edge of the box whatever the alignment);
  // returns the height it took.
  double text(double x, double y, double width, std::string_view utf8, const TextStyle& s);
  double text_height(double width, std::string_view utf8, const TextStyle& s);
  double text_width(std::string_view utf8, const TextStyle& s);

  void line(double x1, double y1, double x2, double y2, double width, Rgb c);
  void rect(double x, double y, double w, double h, std::optional<Rgb> stroke, double line_width,
            std::optional<Rgb> fill);
  // A JPEG or PNG fitted into the box; nullopt when it cannot be decoded.
  std::optional<Placed> image(std::string_view bytes, double x, double y, double w, double h);
  // The QR code of text as vector squares, size × size points; false when it cannot be encoded.
  bool qr(std::string_view text, double x, double y, double size);
  // A round red official seal (公章) drawn as vectors: ring, star and the organisation's name
  // along the arc. Used when a jurisdiction's template has no seal image.
  void seal(double cx, double cy, double radius, std::string_view org);

  void new_page();
  int page() const { return page_; }
  cairo_t* cr() { return cr_; }

  // Ends the document; its bytes.
  std::string finish();

 private:
  std::string out_;
  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
  int page_ = 1;
  bool finished_ = false;
};

}  // namespace mingchu::reports
