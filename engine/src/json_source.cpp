// The JSON and NDJSON readers. simdjson 3.0 cannot split a top-level array
// into documents, so a small scanner (strings, escapes, depth; vectorised
// like the CSV scan) finds each element's bytes and simdjson's On-Demand
// parser reads each element alone: a bad element costs one row. NDJSON is
// split at line feeds and each line parsed alone.

#include "csv_scan.hpp"
#include "readers.hpp"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace salvo::engine::detail {
namespace {

namespace od = simdjson::ondemand;

[[nodiscard]] inline std::uint64_t low_bits(std::size_t n) noexcept {
    return n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
}

[[nodiscard]] inline bool is_ws(char c) noexcept {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

[[nodiscard]] std::string_view trim_right(std::string_view s) noexcept {
    while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
    return s;
}

/// JSON's number grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?
[[nodiscard]] bool is_json_number(std::string_view s) noexcept {
    std::size_t i = 0, n = s.size();
    auto digits = [&] {
        std::size_t b = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
        return i > b;
    };
    if (i < n && s[i] == '-') ++i;
    if (i < n && s[i] == '0') {
        ++i;
    } else if (!digits()) {
        return false;
    }
    if (i < n && s[i] == '.') {
        ++i;
        if (!digits()) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == n;
}

/// An element (JSON) or line (NDJSON) found by the scanner.
struct element {
    std::size_t begin = 0, end = 0;
    std::uint64_t line = 0;
    std::string problem;  // set when the scanner already knows it is bad
    errc code = errc::bad_json;
};

class json_source final : public recipient_source {
  public:
    json_source(reader_setup&& s, bool ndjson)
        : in_(std::move(s.in)),
          opt_(std::move(s.options)),
          carry_(std::move(s.prefix)),
          eof_(s.eof),
          ndjson_(ndjson) {
        name_ = std::move(s.name);
        limit_ = std::max(opt_.chunk_bytes, opt_.max_record_bytes);
    }

    boost::system::result<void, source_error> init();
    boost::system::result<bool, source_error> next_chunk(chunk& out) override;

  private:
    enum class stage { open, first, value, comma, finished };

    boost::system::result<void, source_error> fill(chunk& out);
    std::size_t scan_array(const char* buf, std::size_t pos, std::size_t size);
    std::size_t scan_lines(const char* buf, std::size_t pos, std::size_t size);
    bool element_end(const char* buf, std::size_t i, std::size_t size, std::size_t& end,
                     std::uint64_t& lines) const;
    void learn_keys(chunk& out);
    void emit(chunk& out, const element& e);
    [[nodiscard]] std::size_t find_column(std::string_view key, std::size_t hint) const noexcept;
    void fail(chunk& out, const element& e, errc code, std::string_view what);

    std::unique_ptr<byte_input> in_;
    source_options opt_;
    std::string carry_;
    bool eof_ = false;
    bool done_ = false;
    bool ndjson_ = false;
    bool keys_known_ = false;
    bool missing_comma_ = false;
    stage stage_ = stage::open;
    std::size_t limit_ = 0;
    std::uint64_t line_ = 1;
    std::uint64_t next_row_ = 1;
    std::vector<std::string> keys_;
    std::vector<element> elements_;
    od::parser parser_;
};

bool json_source::element_end(const char* buf, std::size_t i, std::size_t size, std::size_t& end,
                              std::uint64_t& lines) const {
    lines = 0;
    const char c = buf[i];
    if (c == '"') {  // a string element (not an object, but find its end)
        for (std::size_t p = i + 1; p < size; ++p) {
            if (buf[p] == '\\') {
                ++p;
            } else if (buf[p] == '"') {
                end = p + 1;
                return true;
            }
        }
        return false;
    }
    if (c != '{' && c != '[') {  // a number, literal or garbage: up to , ] or space
        // At least one byte, so that a stray '}' is consumed as a bad element.
        for (std::size_t p = i + 1; p < size; ++p) {
            if (buf[p] == ',' || buf[p] == ']' || buf[p] == '}' || is_ws(buf[p])) {
                end = p;
                return true;
            }
        }
        if (!eof_) return false;
        end = size;
        return true;
    }
    int depth = 0;
    bool in_string = false;
    std::size_t skip = 0;  // a position after a backslash is not structural
    std::size_t base = i;
    std::uint64_t bits = json_structural_mask(buf + base) & low_bits(size - base);
    for (;;) {
        while (bits == 0) {
            base += 64;
            if (base >= size) return false;
            bits = json_structural_mask(buf + base) & low_bits(size - base);
        }
        const std::size_t p = base + static_cast<std::size_t>(std::countr_zero(bits));
        bits &= bits - 1;
        if (p < skip) continue;
        switch (buf[p]) {
            case '\n':
                ++lines;
                break;
            case '\\':
                if (in_string) skip = p + 2;
                break;
            case '"':
                in_string = !in_string;
                break;
            case '{':
            case '[':
                if (!in_string) ++depth;
                break;
            default:  // } ]
                if (!in_string && --depth == 0) {
                    end = p + 1;
                    return true;
                }
        }
    }
}

std::size_t json_source::scan_array(const char* buf, std::size_t pos, std::size_t size) {
    std::size_t i = pos;
    for (;;) {
        while (i < size && is_ws(buf[i])) {
            if (buf[i] == '\n') ++line_;
            ++i;
        }
        if (i == size) return i;
        const char c = buf[i];
        switch (stage_) {
            case stage::open:  // init() checked the '['
                stage_ = stage::first;
                ++i;
                continue;
            case stage::finished:
                return size;  // text after the closing ']' is ignored
            case stage::comma:
                if (c == ',') {
                    stage_ = stage::value;
                    ++i;
                    continue;
                }
                if (c == ']') {
                    stage_ = stage::finished;
                    ++i;
                    continue;
                }
                missing_comma_ = true;  // read the element anyway, marked bad
                stage_ = stage::value;
                continue;
            case stage::first:
            case stage::value:
                if (c == ']') {
                    stage_ = stage::finished;
                    ++i;
                    continue;
                }
                if (c == ',') {  // `[,` or `,,`: an empty element, nothing to read
                    ++i;
                    continue;
                }
                break;
        }
        std::size_t end = 0;
        std::uint64_t lines = 0;
        if (!element_end(buf, i, size, end, lines)) {
            if (!eof_) return i;
            // Never closed: report it, then read on from the next line.
            elements_.push_back({i, size, line_, "the element is never closed", errc::bad_json});
            const void* lf = std::memchr(buf + i, '\n', size - i);
            if (lf == nullptr) return size;
            ++line_;
            i = static_cast<std::size_t>(static_cast<const char*>(lf) - buf) + 1;
            stage_ = stage::value;
            continue;
        }
        elements_.push_back(
            {i, end, line_, missing_comma_ ? "a ',' is missing before it" : "", errc::bad_json});
        missing_comma_ = false;
        line_ += lines;
        i = end;
        stage_ = stage::comma;
    }
}

std::size_t json_source::scan_lines(const char* buf, std::size_t pos, std::size_t size) {
    std::size_t i = pos;
    while (i < size) {
        const void* lf = std::memchr(buf + i, '\n', size - i);
        if (lf == nullptr && !eof_) return i;
        std::size_t e =
            lf == nullptr ? size : static_cast<std::size_t>(static_cast<const char*>(lf) - buf);
        std::size_t b = i;
        while (b < e && is_ws(buf[b])) ++b;
        std::size_t t = e;
        while (t > b && is_ws(buf[t - 1])) --t;
        if (t > b) elements_.push_back({b, t, line_, {}, errc::bad_json});
        ++line_;
        i = e + 1;
    }
    return size;
}

std::size_t json_source::find_column(std::string_view key, std::size_t hint) const noexcept {
    if (hint < keys_.size() && keys_[hint] == key) return hint;
    for (std::size_t k = 0; k < keys_.size(); ++k) {
        if (keys_[k] == key) return k;
    }
    return SIZE_MAX;
}

void json_source::fail(chunk& out, const element& e, errc code, std::string_view what) {
    out.fail_last(code, row_message(name_, out.info(out.size() - 1).row, e.line, "{}", what));
}

void json_source::learn_keys(chunk& out) {
    keys_known_ = true;
    if (!opt_.fields.empty()) {
        keys_ = opt_.fields;
    } else {
        const char* buf = out.buffer();
        const std::size_t avail = out.buffer_capacity() + chunk::padding;
        for (const element& e : elements_) {
            if (!e.problem.empty()) continue;
            od::document doc;
            od::object obj;
            if (parser_.iterate(buf + e.begin, e.end - e.begin, avail - e.begin).get(doc) ||
                doc.get_object().get(obj)) {
                continue;
            }
            std::vector<std::string> keys;
            bool ok = true;
            for (auto&& fr : obj) {
                od::field fld;
                std::string_view key;
                if (std::move(fr).get(fld) || fld.unescaped_key().get(key)) {
                    ok = false;
                    break;
                }
                if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.emplace_back(key);
            }
            if (ok) {
                keys_ = std::move(keys);
                break;
            }
        }
    }
    fields_ = make_fields(keys_);
    out.reset(keys_.size());
}

void json_source::emit(chunk& out, const element& e) {
    std::string_view* v = out.add_row(next_row_++, e.line);
    if (!e.problem.empty()) return fail(out, e, e.code, e.problem);
    const char* buf = out.buffer();
    const std::size_t avail = out.buffer_capacity() + chunk::padding - e.begin;
    if (buf[e.begin] != '{') {
        return fail(out, e, errc::bad_json,
                    ndjson_ ? "the line is not a JSON object" : "the element is not a JSON object");
    }
    auto report = [&](simdjson::error_code err) {
        fail(out, e, err == simdjson::UTF8_ERROR ? errc::invalid_utf8 : errc::bad_json,
             err == simdjson::UTF8_ERROR
                 ? std::string("not valid UTF-8 (is the file windows-1252 or latin-1? set the "
                               "encoding option)")
                 : fmt::format("bad JSON: {}", simdjson::error_message(err)));
    };
    // A NUL byte, raw or escaped as \u0000, is no text (as in csv_source).
    const bool raw_nul = std::memchr(buf + e.begin, '\0', e.end - e.begin) != nullptr;
    od::document doc;
    od::object obj;
    if (auto err = parser_.iterate(buf + e.begin, e.end - e.begin, avail).get(doc)) {
        return report(err);
    }
    if (auto err = doc.get_object().get(obj)) return report(err);
    std::size_t hint = 0;
    for (auto&& fr : obj) {
        od::field fld;
        std::string_view key;
        if (auto err = std::move(fr).get(fld)) return report(err);
        // Most keys hold no escape: compare their raw bytes, unescape only
        // when a backslash shows up.
        const char* raw = fld.key().raw();
        const char* q = raw;
        while (*q != '"' && *q != '\\') ++q;
        if (*q == '"') {
            key = std::string_view(raw, static_cast<std::size_t>(q - raw));
        } else if (auto err = fld.unescaped_key().get(key)) {
            return report(err);
        }
        od::value val = fld.value();
        od::json_type type;
        if (auto err = val.type().get(type)) return report(err);
        const std::size_t col = find_column(key, hint);
        if (col == SIZE_MAX) continue;  // a key outside the field set is ignored
        hint = col + 1;
        std::string_view text;
        switch (type) {
            case od::json_type::string: {
                std::string_view tok = trim_right(val.raw_json_token());
                if (tok.size() < 2 || tok.back() != '"') return report(simdjson::STRING_ERROR);
                tok = tok.substr(1, tok.size() - 2);
                const bool escaped = tok.find('\\') != std::string_view::npos;
                if (!escaped) {
                    text = tok;  // a view into the chunk buffer
                } else {
                    std::string_view s;
                    if (auto err = val.get_string().get(s)) return report(err);
                    text = out.store(s);
                }
                if ((raw_nul || escaped) && text.find('\0') != std::string_view::npos)
                    return fail(out, e, errc::nul_byte,
                                fmt::format("field '{}' holds a NUL byte", keys_[col]));
                break;
            }
            case od::json_type::number:
                text = trim_right(val.raw_json_token());
                if (!is_json_number(text)) return report(simdjson::NUMBER_ERROR);
                break;
            case od::json_type::boolean: {
                bool b = false;
                if (auto err = val.get_bool().get(b)) return report(err);
                text = b ? std::string_view("true") : std::string_view("false");
                break;
            }
            case od::json_type::null: {
                bool is_null = false;
                if (val.is_null().get(is_null) || !is_null) return report(simdjson::N_ATOM_ERROR);
                text = std::string_view("", 0);
                break;
            }
            default:
                return fail(
                    out, e, errc::nested_value,
                    fmt::format("field '{}' holds a nested {}; only strings, numbers, "
                                "booleans and null can be merged",
                                keys_[col], type == od::json_type::array ? "array" : "object"));
        }
        if (merge::is_absent(v[col])) v[col] = text;  // the first of repeated keys wins
    }
    // `{"a":1} {"b":2}` on one line: the second object must not vanish.
    const char* rest = nullptr;
    if (doc.current_location().get(rest) == simdjson::SUCCESS) {
        return fail(out, e, errc::bad_json, "text after the object");
    }
}

boost::system::result<void, source_error> json_source::fill(chunk& out) {
    out.reset(keys_.size());
    elements_.clear();
    out.reserve_buffer(std::max(opt_.chunk_bytes, carry_.size()), 0);
    char* buf = out.buffer();
    std::size_t size = carry_.size();
    std::memcpy(buf, carry_.data(), size);
    carry_.clear();
    std::size_t start = 0;
    std::size_t consumed = 0;  // the input bytes this chunk's elements came from
    for (;;) {
        if (auto r = in_->fill(buf, size, out.buffer_capacity(), eof_); !r) return r.error();
        const std::size_t before = elements_.size();
        std::size_t end = ndjson_ ? scan_lines(buf, start, size) : scan_array(buf, start, size);
        if (end > start || eof_ || elements_.size() > before) {
            if (elements_.empty() && !eof_) {  // only whitespace so far
                std::memmove(buf, buf + end, size - end);
                size -= end;
                start = 0;
                continue;
            }
            carry_.assign(buf + end, size - end);
            consumed = end;
            break;
        }
        if (out.buffer_capacity() < limit_) {
            out.reserve_buffer(std::min(out.buffer_capacity() * 2, limit_), size);
            buf = out.buffer();
            continue;
        }
        // One element longer than the limit: report it, read on at the next line.
        elements_.push_back({0, 0, line_,
                             fmt::format("{} longer than {} bytes, skipped to the next line",
                                         ndjson_ ? "line" : "element", limit_),
                             errc::record_too_long});
        auto found = in_->skip_line(buf, out.buffer_capacity(), size, start, eof_);
        if (!found) return found.error();
        if (!ndjson_) stage_ = stage::value;
        start = 0;
        if (*found) ++line_;
    }
    if (!keys_known_) learn_keys(out);  // resets `out`
    for (const element& e : elements_) emit(out, e);
    out.set_source_bytes(consumed);
    return {};
}

boost::system::result<void, source_error> json_source::init() {
    std::size_t i = carry_.find_first_not_of(" \t\r\n");
    if (i == std::string::npos) {
        if (!opt_.fields.empty()) {
            keys_ = opt_.fields;
            fields_ = make_fields(keys_);
        }
        keys_known_ = true;
        stage_ = stage::finished;
        done_ = eof_;
        return {};
    }
    const char want = ndjson_ ? '{' : '[';
    if (carry_[i] != want) {
        return source_error{
            make_error_code(errc::not_the_format),
            ndjson_
                ? fmt::format("{}: not NDJSON: the first line does not start with '{{'", name_)
                : fmt::format("{}: not a JSON array of objects: it starts with '{}', not '['{}",
                              name_, carry_[i],
                              carry_[i] == '{' ? " (for one object per line, use ndjson)" : "")};
    }
    return {};
}

boost::system::result<bool, source_error> json_source::next_chunk(chunk& out) {
    if (done_) {
        out.reset(keys_.size());
        return false;
    }
    auto r = fill(out);
    if (!r) return r.error();
    if (eof_ && carry_.empty()) done_ = true;
    return !out.empty() || !done_;
}

}  // namespace

source_result make_json_source(reader_setup&& setup, bool ndjson) {
    auto src = std::make_unique<json_source>(std::move(setup), ndjson);
    auto r = src->init();
    if (!r) return r.error();
    return std::unique_ptr<recipient_source>(std::move(src));
}

}  // namespace salvo::engine::detail
