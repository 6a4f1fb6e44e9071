#include "reports/pdf_canvas.hpp"

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>
#include <qrencode.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace mingchu::reports {
namespace {

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

struct ReadCursor {
  std::string_view bytes;
  size_t at = 0;
};

cairo_status_t read_from_view(void* closure, unsigned char* data, unsigned int length) {
  auto* c = static_cast<ReadCursor*>(closure);
  if (c->bytes.size() - c->at < length) return CAIRO_STATUS_READ_ERROR;
  std::memcpy(data, c->bytes.data() + c->at, length);
  c->at += length;
  return CAIRO_STATUS_SUCCESS;
}

using LayoutPtr = std::unique_ptr<PangoLayout, decltype(&g_object_unref)>;

LayoutPtr make_layout(cairo_t* cr, double width, std::string_view utf8, const TextStyle& s) {
  LayoutPtr layout(pango_cairo_create_layout(cr), &g_object_unref);
  PangoFontDescription* fd = pango_font_description_new();
  pango_font_description_set_family(fd, s.serif ? "Noto Serif CJK SC" : "Noto Sans CJK SC");
  pango_font_description_set_weight(fd, s.bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  // cairo's PDF units are points: an absolute size is the size in points
  pango_font_description_set_absolute_size(fd, s.size * PANGO_SCALE);
  pango_layout_set_font_description(layout.get(), fd);
  pango_font_description_free(fd);
  if (width > 0) {
    pango_layout_set_width(layout.get(), static_cast<int>(width * PANGO_SCALE));
    pango_layout_set_wrap(layout.get(), PANGO_WRAP_WORD_CHAR);
  }
  pango_layout_set_alignment(layout.get(), s.align == Align::kCenter  ? PANGO_ALIGN_CENTER
                                           : s.align == Align::kRight ? PANGO_ALIGN_RIGHT
                                                                      : PANGO_ALIGN_LEFT);
  if (s.letter_spacing > 0) {
    PangoAttrList* attrs = pango_attr_list_new();
    pango_attr_list_insert(attrs, pango_attr_letter_spacing_new(static_cast<int>(s.letter_spacing * PANGO_SCALE)));
    pango_layout_set_attributes(layout.get(), attrs);
    pango_attr_list_unref(attrs);
  }
  pango_layout_set_text(layout.get(), utf8.data(), static_cast<int>(utf8.size()));
  return layout;
}

// The code points of a UTF-8 string, each as its own string (for text along an arc).
std::vector<std::string> code_points(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace

std::optional<ImageSize> image_size(std::string_view b) {
  auto u = [&](size_t i) { return static_cast<unsigned char>(b[i]); };
  if (b.size() >= 24 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) {
    ImageSize s;
    s.width = (u(16) << 24) | (u(17) << 16) | (u(18) << 8) | u(19);
    s.height = (u(20) << 24) | (u(21) << 16) | (u(22) << 8) | u(23);
    if (s.width <= 0 || s.height <= 0 || s.width > 20000 || s.height > 20000) return std::nullopt;
    return s;
  }
  if (b.size() < 4 || u(0) != 0xFF || u(1) != 0xD8) return std::nullopt;
  size_t i = 2;
  while (i + 4 <= b.size()) {
    if (u(i) != 0xFF) return std::nullopt;
    unsigned m = u(i + 1);
    if (m == 0xFF) {
      ++i;
      continue;
    }
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
      i += 2;
      continue;
    }
    size_t len = (u(i + 2) << 8) | u(i + 3);
    if (len < 2) return std::nullopt;
    bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (i + 9 > b.size()) return std::nullopt;
      ImageSize s;
      s.height = (u(i + 5) << 8) | u(i + 6);
      s.width = (u(i + 7) << 8) | u(i + 8);
      s.jpeg = true;
      if (s.width <= 0 || s.height <= 0) return std::nullopt;
      return s;
    }
    i += 2 + len;
  }
  return std::nullopt;
}

PdfCanvas::PdfCanvas(std::string_view title, std::string_view author) {
  surface_ = cairo_pdf_surface_create_for_stream(append_to_string, &out_, kWidth, kHeight);
  cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_TITLE, std::string(title).c_str());
  cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_AUTHOR, std::string(author).c_str());
  cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_CREATOR, "MingChu 明厨");
  cr_ = cairo_create(surface_);
  if (cairo_status(cr_) != CAIRO_STATUS_SUCCESS) throw std::runtime_error("cairo: cannot create a PDF surface");
}

PdfCanvas::~PdfCanvas() {
  if (cr_) cairo_destroy(cr_);
  if (surface_) cairo_surface_destroy(surface_);
}

double PdfCanvas::text(double x, double y, double width, std::string_view utf8, const TextStyle& s) {
  auto layout = make_layout(cr_, width, utf8, s);
  cairo_set_source_rgb(cr_, s.color.r, s.color.g, s.color.b);
  cairo_move_to(cr_, x, y);
  pango_cairo_show_layout(cr_, layout.get());
  int w = 0, h = 0;
  pango_layout_get_size(layout.get(), &w, &h);
  return static_cast<double>(h) / PANGO_SCALE;
}

double PdfCanvas::text_height(double width, std::string_view utf8, const TextStyle& s) {
  auto layout = make_layout(cr_, width, utf8, s);
  int w = 0, h = 0;
  pango_layout_get_size(layout.get(), &w, &h);
  return static_cast<double>(h) / PANGO_SCALE;
}

double PdfCanvas::text_width(std::string_view utf8, const TextStyle& s) {
  auto layout = make_layout(cr_, -1, utf8, s);
  int w = 0, h = 0;
  pango_layout_get_size(layout.get(), &w, &h);
  return static_cast<double>(w) / PANGO_SCALE;
}

void PdfCanvas::line(double x1, double y1, double x2, double y2, double width, Rgb c) {
  cairo_set_source_rgb(cr_, c.r, c.g, c.b);
  cairo_set_line_width(cr_, width);
  cairo_move_to(cr_, x1, y1);
  cairo_line_to(cr_, x2, y2);
  cairo_stroke(cr_);
}

void PdfCanvas::rect(double x, double y, double w, double h, std::optional<Rgb> stroke, double line_width,
                     std::optional<Rgb> fill) {
  cairo_rectangle(cr_, x, y, w, h);
  if (fill) {
    cairo_set_source_rgb(cr_, fill->r, fill->g, fill->b);
    if (stroke) {
      cairo_fill_preserve(cr_);
    } else {
      cairo_fill(cr_);
    }
  }
  if (stroke) {
    cairo_set_source_rgb(cr_, stroke->r, stroke->g, stroke->b);
    cairo_set_line_width(cr_, line_width);
    cairo_stroke(cr_);
  }
  cairo_new_path(cr_);
}

std::optional<Placed> PdfCanvas::image(std::string_view bytes, double x, double y, double w, double h) {
  auto size = image_size(bytes);
  if (!size) return std::nullopt;
  cairo_surface_t* img = nullptr;
  if (size->jpeg) {
    // A blank surface of the JPEG's size carrying the JPEG itself as its mime data: the PDF
    // backend embeds those bytes (DCTDecode) instead of the pixels, so nothing is decoded.
    img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, size->width, size->height);
    auto* copy = static_cast<unsigned char*>(std::malloc(bytes.size()));
    if (!copy) {
      cairo_surface_destroy(img);
      return std::nullopt;
    }
    std::memcpy(copy, bytes.data(), bytes.size());
    cairo_surface_set_mime_data(img, CAIRO_MIME_TYPE_JPEG, copy, bytes.size(), std::free, copy);
  } else {
    ReadCursor rc{bytes, 0};
    img = cairo_image_surface_create_from_png_stream(read_from_view, &rc);
  }
  if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(img);
    return std::nullopt;
  }
  double scale = std::min(w / size->width, h / size->height);
  Placed p;
  p.scale = scale;
  p.w = size->width * scale;
  p.h = size->height * scale;
  p.x = x + (w - p.w) / 2;
  p.y = y + (h - p.h) / 2;
  cairo_save(cr_);
  cairo_translate(cr_, p.x, p.y);
  cairo_scale(cr_, scale, scale);
  cairo_set_source_surface(cr_, img, 0, 0);
  cairo_paint(cr_);
  cairo_restore(cr_);
  cairo_surface_destroy(img);
  return p;
}

bool PdfCanvas::qr(std::string_view text, double x, double y, double size) {
  std::string t(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> q(QRcode_encodeString(t.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1),
                                                    &QRcode_free);
  if (!q) return false;
  const int quiet = 2;
  int n = q->width + 2 * quiet;
  double m = size / n;
  rect(x, y, size, size, std::nullopt, 0, Rgb{1, 1, 1});
  cairo_set_source_rgb(cr_, 0, 0, 0);
  for (int r = 0; r < q->width; ++r) {
    for (int c = 0; c < q->width; ++c) {
      if (q->data[r * q->width + c] & 1) cairo_rectangle(cr_, x + (c + quiet) * m, y + (r + quiet) * m, m, m);
    }
  }
  cairo_fill(cr_);
  return true;
}

void PdfCanvas::seal(double cx, double cy, double radius, std::string_view org) {
  cairo_save(cr_);
  cairo_set_source_rgba(cr_, kRed.r, kRed.g, kRed.b, 0.85);
  cairo_set_line_width(cr_, radius * 0.06);
  cairo_arc(cr_, cx, cy, radius, 0, 2 * M_PI);
  cairo_stroke(cr_);
  // five-pointed star
  double outer = radius * 0.28, inner = outer * 0.382;
  for (int i = 0; i < 10; ++i) {
    double a = -M_PI / 2 + i * M_PI / 5;
    double rr = i % 2 == 0 ? outer : inner;
    if (i == 0) {
      cairo_move_to(cr_, cx + rr * std::cos(a), cy + rr * std::sin(a));
    } else {
      cairo_line_to(cr_, cx + rr * std::cos(a), cy + rr * std::sin(a));
    }
  }
  cairo_close_path(cr_);
  cairo_fill(cr_);
  // the organisation's name along the upper arc, from about 8 to 4 o'clock
  auto chars = code_points(org);
  if (!chars.empty()) {
    TextStyle st;
    st.size = radius * 0.22;
    st.bold = true;
    st.serif = false;
    st.color = kRed;
    double span = std::min(4.2, 0.32 * chars.size());  // radians
    double start = -M_PI / 2 - span / 2;
    for (size_t i = 0; i < chars.size(); ++i) {
      double a = chars.size() == 1 ? -M_PI / 2 : start + span * i / (chars.size() - 1);
      double rr = radius * 0.74;
      cairo_save(cr_);
      cairo_translate(cr_, cx + rr * std::cos(a), cy + rr * std::sin(a));
      cairo_rotate(cr_, a + M_PI / 2);
      auto layout = make_layout(cr_, -1, chars[i], st);
      int w = 0, h = 0;
      pango_layout_get_size(layout.get(), &w, &h);
      cairo_set_source_rgba(cr_, kRed.r, kRed.g, kRed.b, 0.85);
      cairo_move_to(cr_, -w / 2.0 / PANGO_SCALE, -h / 2.0 / PANGO_SCALE);
      // outlines, not text: a seal is a picture, its letters must not mix into the page's
      // searchable text
      pango_cairo_layout_path(cr_, layout.get());
      cairo_fill(cr_);
      cairo_restore(cr_);
    }
  }
  cairo_restore(cr_);
}

void PdfCanvas::new_page() {
  cairo_show_page(cr_);
  ++page_;
}

std::string PdfCanvas::finish() {
  if (!finished_) {
    cairo_destroy(cr_);
    cr_ = nullptr;
    cairo_surface_finish(surface_);
    cairo_status_t st = cairo_surface_status(surface_);
    cairo_surface_destroy(surface_);
    surface_ = nullptr;
    finished_ = true;
    if (st != CAIRO_STATUS_SUCCESS) throw std::runtime_error(std::string("cairo: ") + cairo_status_to_string(st));
  }
  return std::move(out_);
}

}  // namespace mingchu::reports
