// The CSV reader (RFC 4180): a vectorised scan finds the delimiters, quotes
// and line feeds of each 64-byte block, and a small state machine walks only
// those positions. Values are views into the chunk buffer; a quoted field
// holding `""` is unescaped into the chunk's arena.

#include "csv_scan.hpp"
#include "readers.hpp"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace salvo::engine::detail {
namespace {

[[nodiscard]] inline std::uint64_t low_bits(std::size_t n) noexcept {
    return n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
}

class csv_source final : public recipient_source {
  public:
    explicit csv_source(reader_setup&& s)
        : in_(std::move(s.in)),
          opt_(std::move(s.options)),
          carry_(std::move(s.prefix)),
          eof_(s.eof),
          check_utf8_(s.encoding == text_encoding::utf8) {
        name_ = std::move(s.name);
        limit_ = std::max(opt_.chunk_bytes, opt_.max_record_bytes);
        delim_ = opt_.delimiter;
        if (delim_ == 0) delim_ = s.tsv ? '\t' : guess_delimiter(carry_);
    }

    boost::system::result<void, source_error> init();
    boost::system::result<bool, source_error> next_chunk(chunk& out) override;

  private:
    static char guess_delimiter(std::string_view text) noexcept;
    boost::system::result<void, source_error> fill(chunk& out);
    std::size_t parse(chunk& out, const char* buf, std::size_t pos, std::size_t size, bool eof);
    [[gnu::always_inline]] void push(std::size_t& nf, std::string_view v) {
        if (nf < tmp_size_) [[likely]] {
            tmp_data_[nf] = v;
        } else {
            push_wide(nf, v);
        }
        ++nf;
    }
    [[gnu::noinline]] void push_wide(std::size_t nf, std::string_view v) {
        if (header_ && nf < max_header_fields) {
            tmp_.push_back(v);  // the header is as wide as it is
            tmp_data_ = tmp_.data();
            tmp_size_ = tmp_.size();
        }
    }
    std::string_view quoted_value(chunk& out, const char* buf, std::size_t open, std::size_t close,
                                  bool unescape) {
        const char* b = buf + open + 1;
        const std::size_t n = close - open - 1;
        if (!unescape) [[likely]]
            return {b, n};
        return unescape_quoted(out, b, n);
    }
    [[gnu::noinline]] static std::string_view unescape_quoted(chunk& out, const char* b,
                                                              std::size_t n);
    [[gnu::always_inline]] void finish(chunk& out, std::uint64_t line, std::size_t nf);
    void report_count(chunk& out, std::uint64_t line, std::size_t nf);
    void finish_bad(chunk& out, std::uint64_t line, std::size_t nf, std::string_view what);
    [[nodiscard]] std::string field_label(std::size_t i) const;
    void check_utf8(chunk& out);

    std::unique_ptr<byte_input> in_;
    source_options opt_;
    std::string carry_;  // an unfinished record, carried to the next chunk
    bool eof_ = false;
    bool done_ = false;
    bool check_utf8_ = true;
    char delim_ = ',';
    bool header_ = true;  // parsing the header record
    bool header_done_ = false;
    bool header_bad_ = false;
    std::size_t header_width_ = 0;  // fields in the header record
    std::vector<std::string> header_names_;
    std::size_t ncols_ = 0;
    std::size_t limit_ = 0;
    std::uint64_t line_ = 1;
    std::uint64_t next_row_ = 1;
    // The values of the record being read: the header's in tmp_, a row's
    // in the chunk (tmp_data_ is chunk::next_row_slots()).
    std::vector<std::string_view> tmp_;
    std::string_view* tmp_data_ = nullptr;
    std::size_t tmp_size_ = 0;
    static constexpr std::size_t max_header_fields = 16384;
    std::size_t parsed_end_ = 0;  // bytes of the chunk buffer holding its rows
};

char csv_source::guess_delimiter(std::string_view text) noexcept {
    text = text.substr(0, text.find('\n'));
    auto n = [&](char c) { return std::count(text.begin(), text.end(), c); };
    auto comma = n(','), semi = n(';'), tab = n('\t');
    if (tab > comma && tab >= semi) return '\t';
    if (semi > comma) return ';';
    return ',';
}

std::string csv_source::field_label(std::size_t i) const {
    if (i < fields_.size()) return fmt::format("field '{}'", fields_[i].name);
    return fmt::format("field {}", i + 1);
}

std::string_view csv_source::unescape_quoted(chunk& out, const char* b, std::size_t n) {
    char* dst = out.allocate(n);
    std::size_t k = 0;
    const char* end = b + n;
    while (b < end) {
        // Copy through the next quote, then skip its twin (`""` is one quote).
        const void* q = std::memchr(b, '"', static_cast<std::size_t>(end - b));
        const char* stop = q == nullptr ? end : static_cast<const char*>(q) + 1;
        std::memcpy(dst + k, b, static_cast<std::size_t>(stop - b));
        k += static_cast<std::size_t>(stop - b);
        b = q == nullptr ? end : stop + 1;
    }
    return {dst, k};
}

inline void csv_source::finish(chunk& out, std::uint64_t line, std::size_t nf) {
    if (header_) [[unlikely]] {
        for (std::size_t i = 0; i < std::min(nf, tmp_size_); ++i) {
            header_names_.emplace_back(tmp_[i]);
        }
        header_done_ = true;
        header_bad_ = nf > tmp_size_;
        header_width_ = nf;
        return;
    }
    // The values were pushed in place, into the chunk's next row.
    out.commit_row(next_row_++, line, nf);
    if (nf != ncols_) [[unlikely]]
        report_count(out, line, nf);
    tmp_data_ = out.next_row_slots(tmp_size_);
}

void csv_source::report_count(chunk& out, std::uint64_t line, std::size_t nf) {
    out.fail_last(errc::field_count,
                  row_message(name_, next_row_ - 1, line, "{} field{}, the header has {}", nf,
                              nf == 1 ? "" : "s", ncols_));
}

void csv_source::finish_bad(chunk& out, std::uint64_t line, std::size_t nf, std::string_view what) {
    if (header_) {
        header_done_ = true;
        header_bad_ = true;
        return;
    }
    out.commit_row(next_row_++, line, nf);
    out.fail_last(errc::bad_quoting,
                  row_message(name_, next_row_ - 1, line, "{}: {}", field_label(nf), what));
    tmp_data_ = out.next_row_slots(tmp_size_);
}

std::size_t csv_source::parse(chunk& out, const char* buf, std::size_t pos, std::size_t size,
                              bool eof) {
    const char d = delim_;
    // A row's values go straight into the chunk's next row (the header's,
    // into tmp_).
    if (!header_) tmp_data_ = out.next_row_slots(tmp_size_);
    // Masks for a batch of blocks at a time: the vector kernel runs over
    // 4 KiB, then the state machine walks the set bits.
    constexpr std::size_t batch = 64;
    std::uint64_t masks[batch];
    std::size_t mask_count = 0, mask_index = 0;
    auto refill = [&](std::size_t at) {
        mask_count = std::min(batch, (size - at + 63) / 64);
        structural_masks(buf + at, mask_count, d, masks);
        mask_index = 0;
    };
    for (;;) {  // once, plus once per resynchronisation after a bad quote
        enum { unquoted, quoted, after_quote, skip_line } st = unquoted;
        std::size_t rec = pos, f = pos, nf = 0;
        std::uint64_t rec_line = line_;
        std::size_t q_open = 0, q_close = 0;
        std::uint64_t q_line = 0;
        bool unescape = false;
        std::size_t base = pos;
        std::uint64_t bits = 0;
        if (base < size) {
            refill(base);
            bits = masks[0] & low_bits(size - base);
        }
        for (;;) {
            while (bits == 0) {
                base += 64;
                if (base >= size) goto end_of_data;
                if (++mask_index == mask_count) refill(base);
                bits = masks[mask_index] & low_bits(size - base);
            }
            const std::size_t p = base + static_cast<std::size_t>(std::countr_zero(bits));
            bits &= bits - 1;
            const char c = buf[p];
            if (st == unquoted) {
                if (c == d) {
                    push(nf, {buf + f, p - f});
                    f = p + 1;
                    continue;
                }
                if (c == '\n') {
                    std::size_t end = p;
                    if (end > f && buf[end - 1] == '\r') --end;
                    ++line_;
                    if (nf == 0 && end == f) {  // a blank line is no record
                        rec = f = p + 1;
                        rec_line = line_;
                        continue;
                    }
                    push(nf, {buf + f, end - f});
                    finish(out, rec_line, nf);
                    if (header_) return p + 1;
                    rec = f = p + 1;
                    rec_line = line_;
                    nf = 0;
                    continue;
                }
                // A quote opens a quoted field only at the field's start;
                // elsewhere it is a literal character (`5" disk`).
                if (p == f) {
                    st = quoted;
                    q_open = p;
                    q_line = line_;
                    unescape = false;
                }
                continue;
            }
            if (st == quoted) {
                if (c == '"') {
                    st = after_quote;
                    q_close = p;
                } else if (c == '\n') {
                    ++line_;
                }
                continue;
            }
            if (st == after_quote) {
                const bool adjacent = p == q_close + 1;
                if (adjacent && c == '"') {
                    unescape = true;
                    st = quoted;
                    continue;
                }
                if (adjacent && c == d) {
                    push(nf, quoted_value(out, buf, q_open, q_close, unescape));
                    f = p + 1;
                    st = unquoted;
                    continue;
                }
                if (c == '\n' && (adjacent || (p == q_close + 2 && buf[q_close + 1] == '\r'))) {
                    push(nf, quoted_value(out, buf, q_open, q_close, unescape));
                    ++line_;
                    finish(out, rec_line, nf);
                    if (header_) return p + 1;
                    rec = f = p + 1;
                    rec_line = line_;
                    nf = 0;
                    st = unquoted;
                    continue;
                }
                st = skip_line;  // text after a closing quote: skip to the line's end
            }
            // skip_line
            if (c == '\n') {
                ++line_;
                finish_bad(out, rec_line, nf, "text after the closing quote");
                if (header_) return p + 1;
                rec = f = p + 1;
                rec_line = line_;
                nf = 0;
                st = unquoted;
            }
        }
    end_of_data:
        if (!eof) {
            line_ = rec_line;
            return rec;
        }
        if (st == unquoted) {
            std::size_t end = size;
            if (end > f && buf[end - 1] == '\r') --end;
            if (nf > 0 || end > f) {
                push(nf, {buf + f, end - f});
                finish(out, rec_line, nf);
            }
            return size;
        }
        if (st == after_quote &&
            (q_close + 1 == size || (q_close + 2 == size && buf[size - 1] == '\r'))) {
            push(nf, quoted_value(out, buf, q_open, q_close, unescape));
            finish(out, rec_line, nf);
            return size;
        }
        if (st != quoted) {
            finish_bad(out, rec_line, nf, "text after the closing quote");
            return size;
        }
        // An unterminated quote: report the record, then read on from the
        // line after the one where the quote opened.
        finish_bad(out, rec_line, nf,
                   fmt::format("the quote opened on line {} is never closed", q_line));
        const void* lf = std::memchr(buf + q_open, '\n', size - q_open);
        if (lf == nullptr || header_) return size;
        pos = static_cast<std::size_t>(static_cast<const char*>(lf) - buf) + 1;
        line_ = q_line + 1;
    }
}

boost::system::result<void, source_error> csv_source::fill(chunk& out) {
    out.reset(ncols_);
    out.reserve_buffer(std::max(opt_.chunk_bytes, carry_.size()), 0);
    char* buf = out.buffer();
    std::size_t size = carry_.size();
    std::memcpy(buf, carry_.data(), size);
    carry_.clear();
    std::size_t start = 0;
    for (;;) {
        if (auto r = in_->fill(buf, size, out.buffer_capacity(), eof_); !r) return r.error();
        std::size_t end = parse(out, buf, start, size, eof_);
        if (end > start || eof_) {
            const bool want_more = header_ ? !header_done_ : out.empty();
            if (want_more && !eof_) {  // only blank lines so far
                std::memmove(buf, buf + end, size - end);
                size -= end;
                start = 0;
                continue;
            }
            carry_.assign(buf + end, size - end);
            parsed_end_ = end;
            out.set_source_bytes(end);
            return {};
        }
        // No record ends in the buffer: grow it, up to the record limit.
        if (out.buffer_capacity() < limit_) {
            out.reserve_buffer(std::min(out.buffer_capacity() * 2, limit_), size);
            buf = out.buffer();
            continue;
        }
        if (header_) {
            return source_error{
                make_error_code(errc::record_too_long),
                fmt::format("{}: the header row is longer than {} bytes", name_, limit_)};
        }
        out.add_row(next_row_++, line_);
        out.fail_last(errc::record_too_long,
                      row_message(name_, next_row_ - 1, line_,
                                  "record longer than {} bytes (an unclosed quote?), skipped "
                                  "to the next line",
                                  limit_));
        // Read on from the line after the record's first line.
        auto found = in_->skip_line(buf, out.buffer_capacity(), size, start, eof_);
        if (!found) return found.error();
        start = 0;
        if (*found) ++line_;
    }
}

void csv_source::check_utf8(chunk& out) {
    // One pass over the chunk; only a chunk with bad bytes is looked at row
    // by row and value by value. A NUL byte is valid UTF-8 but no text
    // (RFC 5322 forbids it in a message): the row is invalid.
    if (out.empty()) return;
    const bool bad_utf8 = check_utf8_ && !simdjson::validate_utf8(out.buffer(), parsed_end_);
    const bool nul = std::memchr(out.buffer(), '\0', parsed_end_) != nullptr;
    if (!bad_utf8 && !nul) return;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (!out.info(i).valid()) continue;  // a malformed record keeps its first reason
        auto values = out.values(i);
        for (std::size_t k = 0; k < values.size(); ++k) {
            if (values[k].empty()) continue;
            if (nul && values[k].find('\0') != std::string_view::npos) {
                out.fail_row(i, errc::nul_byte,
                             row_message(name_, out.info(i).row, out.info(i).line,
                                         "{} holds a NUL byte (is the file UTF-16 or binary?)",
                                         field_label(k)));
                break;
            }
            if (!bad_utf8 || simdjson::validate_utf8(values[k])) continue;
            out.fail_row(i, errc::invalid_utf8,
                         row_message(name_, out.info(i).row, out.info(i).line,
                                     "{} is not valid UTF-8 (is the file windows-1252 or "
                                     "latin-1? set the encoding option)",
                                     field_label(k)));
            break;
        }
    }
}

boost::system::result<void, source_error> csv_source::init() {
    tmp_.clear();
    tmp_data_ = nullptr;
    tmp_size_ = 0;
    chunk scratch;
    auto r = fill(scratch);
    if (!r) return r.error();
    header_ = false;
    if (!header_done_) return {};  // an empty file: no fields, no rows
    if (header_width_ > max_header_fields) {
        return source_error{
            make_error_code(errc::not_the_format),
            fmt::format("{}: the header row has {} fields; at most {} are supported", name_,
                        header_width_, max_header_fields)};
    }
    std::string joined;
    for (auto& h : header_names_) joined += h;
    if (joined.find('\0') != std::string::npos) {
        return source_error{make_error_code(errc::not_the_format),
                            fmt::format("{}: line 1 is not a CSV header row: it holds NUL bytes "
                                        "(is the file UTF-16? save it as UTF-8)",
                                        name_)};
    }
    if (header_bad_) {
        return source_error{make_error_code(errc::not_the_format),
                            fmt::format("{}: line 1 is not a CSV header row", name_)};
    }
    // A bare CR in an unquoted header: the file ends its lines with CR alone
    // (classic Mac, some spreadsheet exports), so every row would read as
    // more header fields and the file as empty.
    for (const auto& h : header_names_) {
        if (h.find('\r') == std::string::npos) continue;
        return source_error{make_error_code(errc::not_the_format),
                            fmt::format("{}: line 1 ends with a bare CR (classic Mac line "
                                        "endings); save the file with LF or CRLF line endings",
                                        name_)};
    }
    if (check_utf8_ && !simdjson::validate_utf8(joined)) {
        return source_error{make_error_code(errc::wrong_encoding),
                            fmt::format("{}: the header row is not valid UTF-8; if the file is "
                                        "windows-1252 or latin-1, set the encoding option",
                                        name_)};
    }
    fields_ = make_fields(header_names_);
    ncols_ = fields_.size();
    tmp_.assign(ncols_ + 1, {});
    tmp_.shrink_to_fit();
    tmp_data_ = tmp_.data();
    tmp_size_ = tmp_.size();
    return {};
}

boost::system::result<bool, source_error> csv_source::next_chunk(chunk& out) {
    if (done_ || ncols_ == 0) {
        out.reset(ncols_);
        done_ = true;
        return false;
    }
    auto r = fill(out);
    if (!r) return r.error();
    check_utf8(out);
    if (eof_ && carry_.empty()) done_ = true;
    return !out.empty() || !done_;
}

}  // namespace

source_result make_csv_source(reader_setup&& setup) {
    auto src = std::make_unique<csv_source>(std::move(setup));
    auto r = src->init();
    if (!r) return r.error();
    return std::unique_ptr<recipient_source>(std::move(src));
}

}  // namespace salvo::engine::detail
