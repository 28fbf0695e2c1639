// Opening a source: the format from the name or the first bytes, the
// encoding, the first chunk's UTF-8 check; and the callback source.

#include "input.hpp"
#include "readers.hpp"

#include <salvo/engine/source.hpp>

#include <simdjson.h>

#include <unistd.h>
#include <algorithm>
#include <cstring>

namespace salvo::engine {
namespace detail {

std::vector<field> make_fields(const std::vector<std::string>& names) {
    std::vector<field> out;
    out.reserve(names.size());
    for (const auto& raw : names) {
        std::string_view n = raw;
        while (!n.empty() && (n.front() == ' ' || n.front() == '\t')) n.remove_prefix(1);
        while (!n.empty() && (n.back() == ' ' || n.back() == '\t' || n.back() == '\r')) {
            n.remove_suffix(1);
        }
        out.push_back(field{std::string(n), template_key(n)});
    }
    return out;
}

bool mostly_bad_utf8(const chunk& c) noexcept {
    std::size_t n = std::min<std::size_t>(c.size(), 100), bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (c.info(i).error == errc::invalid_utf8) ++bad;
    }
    return n > 0 && bad * 2 > n;
}

namespace {

bool ends_with(std::string_view s, std::string_view suffix) noexcept {
    if (s.size() < suffix.size()) return false;
    for (std::size_t i = 0; i < suffix.size(); ++i) {
        char c = s[s.size() - suffix.size() + i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        if (c != suffix[i]) return false;
    }
    return true;
}

/// Serves a chunk read ahead at open time (for the encoding check), then
/// hands over to the reader.
class primed_source final : public recipient_source {
  public:
    primed_source(std::unique_ptr<recipient_source> inner, chunk first, bool more)
        : inner_(std::move(inner)), first_(std::move(first)), more_(more) {
        fields_ = inner_->fields();
        name_ = inner_->name();
    }

    boost::system::result<bool, source_error> next_chunk(chunk& out) override {
        if (primed_) {
            primed_ = false;
            out = std::move(first_);
            if (!out.empty()) return true;
        }
        if (!more_) {
            out.reset(fields_.size());
            return false;
        }
        return inner_->next_chunk(out);
    }

  private:
    std::unique_ptr<recipient_source> inner_;
    chunk first_;
    bool more_;
    bool primed_ = true;
};

}  // namespace
}  // namespace detail

bool parse_format(std::string_view name, input_format& out) noexcept {
    if (name == "auto" || name.empty()) {
        out = input_format::automatic;
    } else if (name == "csv" || name == "tsv") {
        out = input_format::csv;
    } else if (name == "json") {
        out = input_format::json;
    } else if (name == "ndjson" || name == "jsonl") {
        out = input_format::ndjson;
    } else {
        return false;
    }
    return true;
}

std::string template_key(std::string_view name) {
    std::string key;
    key.reserve(name.size());
    bool in_run = false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (ok) {
            key += c;
            in_run = false;
        } else if (!in_run) {
            key += '_';
            in_run = true;
        }
    }
    return key;
}

std::vector<std::string> recipient_source::keys() const {
    std::vector<std::string> out;
    out.reserve(fields_.size());
    for (const auto& f : fields_) out.push_back(f.key);
    return out;
}

boost::system::result<std::unique_ptr<recipient_source>, source_error> open_fd(
    int fd, bool owned, const std::string& name, const source_options& options) {
    detail::reader_setup setup;
    setup.options = options;
    setup.name = options.display_name.empty() ? name : options.display_name;
    if (!detail::parse_encoding(options.encoding, setup.encoding)) {
        if (owned) ::close(fd);
        return source_error{make_error_code(errc::unknown_encoding),
                            fmt::format("unknown encoding '{}': use utf-8, windows-1252 or latin-1",
                                        options.encoding)};
    }
    if (options.delimiter != 0 && options.delimiter != ',' && options.delimiter != ';' &&
        options.delimiter != '\t') {
        if (owned) ::close(fd);
        return source_error{make_error_code(errc::bad_option),
                            "the CSV delimiter must be ',', ';' or a tab"};
    }
    if (options.chunk_bytes < 64 || options.max_record_bytes < 64) {
        if (owned) ::close(fd);
        return source_error{make_error_code(errc::bad_option),
                            "chunk_bytes and max_record_bytes must be at least 64"};
    }
    setup.in = detail::byte_input::from_fd(fd, owned, setup.encoding, setup.name);

    // Read the first block: for the BOM, the format sniff and the delimiter.
    std::string& prefix = setup.prefix;
    prefix.resize(std::min<std::size_t>(options.chunk_bytes, 64 * 1024));
    auto got = setup.in->read(prefix.data(), prefix.size());
    if (!got) return got.error();
    setup.eof = *got < prefix.size();
    prefix.resize(*got);
    if (prefix.size() >= 3 && std::memcmp(prefix.data(), "\xEF\xBB\xBF", 3) == 0) {
        prefix.erase(0, 3);
    }

    std::string_view base = name;
    if (detail::ends_with(base, ".gz")) base.remove_suffix(3);
    setup.tsv = detail::ends_with(base, ".tsv");
    input_format fmt = options.format;
    if (fmt == input_format::automatic) {
        if (detail::ends_with(base, ".csv") || setup.tsv) {
            fmt = input_format::csv;
        } else if (detail::ends_with(base, ".json")) {
            fmt = input_format::json;
        } else if (detail::ends_with(base, ".ndjson") || detail::ends_with(base, ".jsonl")) {
            fmt = input_format::ndjson;
        } else {
            std::size_t i = prefix.find_first_not_of(" \t\r\n");
            char c = i == std::string::npos ? '\0' : prefix[i];
            fmt = c == '['   ? input_format::json
                  : c == '{' ? input_format::ndjson
                             : input_format::csv;
        }
    }

    const bool utf8 = setup.encoding == detail::text_encoding::utf8;
    const std::string display = setup.name;
    auto made = fmt == input_format::csv
                    ? detail::make_csv_source(std::move(setup))
                    : detail::make_json_source(std::move(setup), fmt == input_format::ndjson);
    if (!made) return made.error();
    std::unique_ptr<recipient_source> src = std::move(*made);

    // Read the first chunk now: when its rows are mostly not UTF-8, the file
    // is in another encoding, and one job error says so.
    chunk first;
    auto more = src->next_chunk(first);
    if (!more) return more.error();
    if (utf8 && detail::mostly_bad_utf8(first)) {
        return source_error{make_error_code(errc::wrong_encoding),
                            fmt::format("{}: most of the first rows are not valid UTF-8; if the "
                                        "file is windows-1252 or latin-1, set the encoding option",
                                        display)};
    }
    return std::unique_ptr<recipient_source>(
        std::make_unique<detail::primed_source>(std::move(src), std::move(first), *more));
}

boost::system::result<std::unique_ptr<recipient_source>, source_error> open_source(
    const std::string& path, const source_options& options) {
    std::string display = !options.display_name.empty() ? options.display_name
                          : path == "-"                 ? "stdin"
                                                        : path;
    int fd = 0;  // "-" is standard input, which stays open
    if (path != "-") {
        auto opened = detail::open_file(path, display);
        if (!opened) return opened.error();
        fd = *opened;
    }
    source_options o = options;
    o.display_name = display;
    return open_fd(fd, path != "-", path == "-" ? "" : path, o);
}

// ---- callback source ----

void chunk_writer::add_row(std::span<const std::string_view> values) {
    std::string_view* v = out_.add_row(next_row_, next_row_);
    ++next_row_;
    std::size_t n = std::min(values.size(), out_.columns());
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = merge::is_absent(values[i]) ? std::string_view{} : out_.store(values[i]);
    }
}

void chunk_writer::add_invalid_row(std::string_view reason,
                                   std::span<const std::string_view> values) {
    add_row(values);
    out_.fail_last(errc::rejected_by_host, reason);
}

namespace {

class callback_source final : public recipient_source {
  public:
    callback_source(std::vector<std::string> names, next_chunk_fn fn, std::string name)
        : fn_(std::move(fn)) {
        fields_ = detail::make_fields(names);
        name_ = std::move(name);
    }

    boost::system::result<bool, source_error> next_chunk(chunk& out) override {
        out.reset(fields_.size());
        while (!done_ && out.empty()) {
            chunk_writer w(out, next_row_);
            done_ = !fn_(w);
        }
        return !out.empty();
    }

  private:
    next_chunk_fn fn_;
    std::uint64_t next_row_ = 1;
    bool done_ = false;
};

}  // namespace

std::unique_ptr<recipient_source> make_callback_source(std::vector<std::string> field_names,
                                                       next_chunk_fn next_chunk, std::string name) {
    return std::make_unique<callback_source>(std::move(field_names), std::move(next_chunk),
                                             std::move(name));
}

}  // namespace salvo::engine
