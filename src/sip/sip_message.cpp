#include "sip/sip_message.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include <openssl/evp.h>
#include <osipparser2/osip_parser.h>

namespace mingchu::sip {
namespace {

std::string unquote(const char* s) {
  if (!s) return {};
  std::string v(s);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Error bad(std::string msg) { return Error::malformed("bad_sip", std::move(msg)); }

template <typename T, typename F>
std::string to_str(T* h, F f) {
  if (!h) return {};
  char* out = nullptr;
  if (f(h, &out) != 0 || !out) return {};
  std::string s(out);
  osip_free(out);
  return s;
}

std::string header(osip_message_t* m, const char* name) {
  osip_header_t* h = nullptr;
  if (osip_message_header_get_byname(m, name, 0, &h) >= 0 && h && h->hvalue) return h->hvalue;
  return {};
}

}  // namespace

void sip_init() {
  static std::once_flag once;
  std::call_once(once, [] { parser_init(); });
}

Result<SipMessage> parse_sip(std::string_view data) {
  if (data.size() > kMaxMessageBytes) return bad("message too large");
  if (data.size() < 16) return bad("message too short");
  sip_init();
  osip_message_t* m = nullptr;
  if (osip_message_init(&m) != 0) return bad("out of memory");
  struct Free {
    osip_message_t* m;
    ~Free() { osip_message_free(m); }
  } guard{m};
  if (osip_message_parse(m, data.data(), data.size()) != 0) return bad("not a SIP message");
  SipMessage out;
  out.request = m->sip_method != nullptr;
  if (out.request) {
    out.method = m->sip_method;
    out.request_uri = to_str(m->req_uri, osip_uri_to_str);
  } else {
    out.status = m->status_code;
    out.reason = m->reason_phrase ? m->reason_phrase : "";
  }
  if (!m->call_id || !m->cseq || !m->from || !m->to || !m->cseq->number || !m->cseq->method) {
    return bad("missing Call-ID, CSeq, From or To");
  }
  out.call_id = to_str(m->call_id, osip_call_id_to_str);
  char* end = nullptr;
  unsigned long cseq = std::strtoul(m->cseq->number, &end, 10);
  if (end == m->cseq->number || *end != 0 || cseq > 0x7fffffffUL) return bad("bad CSeq");
  out.cseq = static_cast<std::uint32_t>(cseq);
  out.cseq_method = m->cseq->method;
  for (int i = 0; i < osip_list_size(&m->vias); ++i) {
    auto* v = static_cast<osip_via_t*>(osip_list_get(&m->vias, i));
    out.vias.push_back(to_str(v, osip_via_to_str));
    if (i == 0) {
      osip_generic_param_t* br = nullptr;
      if (osip_via_param_get_byname(v, const_cast<char*>("branch"), &br) >= 0 && br && br->gvalue)
        out.branch = br->gvalue;
    }
  }
  if (out.vias.empty()) return bad("missing Via");
  out.from = to_str(m->from, osip_from_to_str);
  out.to = to_str(m->to, osip_to_to_str);
  if (m->from->url) {
    out.from_user = m->from->url->username ? m->from->url->username : "";
    out.from_host = m->from->url->host ? m->from->url->host : "";
  }
  if (m->to->url && m->to->url->username) out.to_user = m->to->url->username;
  osip_generic_param_t* tag = nullptr;
  char tag_name[] = "tag";  // (osip_from_get_tag passes a string literal as char*)
  if (osip_generic_param_get_byname(&m->from->gen_params, tag_name, &tag) >= 0 && tag && tag->gvalue) {
    out.from_tag = tag->gvalue;
  }
  tag = nullptr;
  if (osip_generic_param_get_byname(&m->to->gen_params, tag_name, &tag) >= 0 && tag && tag->gvalue) {
    out.to_tag = tag->gvalue;
  }
  osip_contact_t* ct = nullptr;
  if (osip_message_get_contact(m, 0, &ct) >= 0 && ct) out.contact = to_str(ct, osip_contact_to_str);
  std::string exp = header(m, "expires");
  if (!exp.empty()) {
    char* e = nullptr;
    long v = std::strtol(exp.c_str(), &e, 10);
    if (e == exp.c_str() || v < 0) return bad("bad Expires");
    out.expires = std::min(v, 86400L * 365);
  }
  if (m->content_type && m->content_type->type) {
    out.content_type =
        lower(std::string(m->content_type->type) + "/" + (m->content_type->subtype ? m->content_type->subtype : ""));
  }
  out.subject = header(m, "subject");
  osip_body_t* body = nullptr;
  if (osip_message_get_body(m, 0, &body) >= 0 && body && body->body) out.body.assign(body->body, body->length);
  osip_authorization_t* a = nullptr;
  if (osip_message_get_authorization(m, 0, &a) >= 0 && a) {
    DigestCredentials c;
    c.username = unquote(a->username);
    c.realm = unquote(a->realm);
    c.nonce = unquote(a->nonce);
    c.uri = unquote(a->uri);
    c.response = unquote(a->response);
    c.algorithm = unquote(a->algorithm);
    c.qop = unquote(a->message_qop);
    c.nc = unquote(a->nonce_count);
    c.cnonce = unquote(a->cnonce);
    out.auth = std::move(c);
  }
  osip_www_authenticate_t* w = nullptr;
  if (osip_message_get_www_authenticate(m, 0, &w) >= 0 && w) {
    out.www_nonce = unquote(w->nonce);
    out.www_realm = unquote(w->realm);
  }
  return out;
}

std::string build_response(const SipMessage& req, int status, std::string_view reason, std::string_view to_tag,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           std::string_view content_type, std::string_view body) {
  std::string s = "SIP/2.0 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  for (const auto& v : req.vias) s += "Via: " + v + "\r\n";
  s += "From: " + req.from + "\r\n";
  s += "To: " + req.to;
  if (req.to_tag.empty() && !to_tag.empty() && status > 100) s += ";tag=" + std::string(to_tag);
  s += "\r\n";
  s += "Call-ID: " + req.call_id + "\r\n";
  s += "CSeq: " + std::to_string(req.cseq) + " " + req.cseq_method + "\r\n";
  for (const auto& [k, v] : headers) s += k + ": " + v + "\r\n";
  s += "User-Agent: MingChu\r\n";
  if (!content_type.empty()) s += "Content-Type: " + std::string(content_type) + "\r\n";
  s += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  s += body;
  return s;
}

long sip_frame_length(std::string_view buf) {
  size_t head = buf.find("\r\n\r\n");
  if (head == std::string_view::npos) return buf.size() > kMaxMessageBytes ? -1 : 0;
  if (head > kMaxMessageBytes) return -1;
  long length = 0;
  std::string_view h = buf.substr(0, head + 2);
  size_t pos = 0;
  while (pos < h.size()) {
    size_t eol = h.find("\r\n", pos);
    if (eol == std::string_view::npos) break;
    std::string_view line = h.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = lower(std::string(line.substr(0, colon)));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name == "content-length" || name == "l") {
      std::string v(line.substr(colon + 1));
      char* e = nullptr;
      long n = std::strtol(v.c_str(), &e, 10);
      if (e == v.c_str() || n < 0 || n > static_cast<long>(kMaxMessageBytes)) return -1;
      length = n;
    }
  }
  long total = static_cast<long>(head) + 4 + length;
  if (total > static_cast<long>(kMaxMessageBytes)) return -1;
  return static_cast<long>(buf.size()) >= total ? total : 0;
}

std::string md5_hex(std::string_view s) {
  unsigned char d[16];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_md5(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 15];
  }
  return out;
}

std::string digest_response(const DigestCredentials& c, std::string_view method, std::string_view password) {
  std::string ha1 = md5_hex(c.username + ":" + c.realm + ":" + std::string(password));
  std::string ha2 = md5_hex(std::string(method) + ":" + c.uri);
  if (c.qop == "auth") return md5_hex(ha1 + ":" + c.nonce + ":" + c.nc + ":" + c.cnonce + ":auth:" + ha2);
  return md5_hex(ha1 + ":" + c.nonce + ":" + ha2);
}

}  // namespace mingchu::sip
