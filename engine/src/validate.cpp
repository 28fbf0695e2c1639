// Address checks, suppression and the per-row fate.

#include "readers.hpp"

#include <salvo/engine/validate.hpp>
#include <salvo/merge/escape.hpp>
#include <salvo/store/store.hpp>

#include <fmt/format.h>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace salvo::engine {
namespace {

[[nodiscard]] char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

/// The column named `want` (by name or key, any case), if any.
[[nodiscard]] std::optional<std::size_t> find_field(const std::vector<field>& fields,
                                                    std::string_view want) noexcept {
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (iequals(fields[i].name, want) || iequals(fields[i].key, want)) return i;
    }
    return std::nullopt;
}

// A value as an error message shows it: at most 80 bytes, control bytes as
// \xNN, so that a hostile cell cannot drive the terminal that prints it.
[[nodiscard]] std::string shown(std::string_view v) {
    if (v.size() > 80) v = v.substr(0, 80);
    std::string out;
    out.reserve(v.size());
    for (const char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xF];
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::string_view to_string(validity f) noexcept {
    switch (f) {
        case validity::valid:
            return "valid";
        case validity::invalid:
            return "invalid";
        case validity::duplicate:
            return "duplicate";
        case validity::suppressed:
            return "suppressed";
        case validity::other_shard:
            return "other_shard";
    }
    return "unknown";
}

const char* check_address(std::string_view a) noexcept {
    if (a.empty()) return "it is empty";
    // One table lookup per byte; only the rare special bytes branch.
    enum : std::uint8_t { plain, at_sign, separator, space, control };
    static constexpr auto classes = [] {
        std::array<std::uint8_t, 256> t{};
        for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = control;
        t[0x7F] = control;
        t['@'] = at_sign;
        t[','] = separator;
        t[';'] = separator;
        t[' '] = space;
        return t;
    }();
    std::size_t at = std::string_view::npos;
    std::size_t i = 0;
#if defined(__SSE2__)
    // 16 to 32 bytes (most addresses): two overlapping blocks. With no
    // special byte but one '@', the byte loop is skipped; anything else
    // goes through it for its message.
    if (a.size() >= 16 && a.size() <= 32) {
        const auto n = a.size();
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.data()));
        const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.data() + n - 16));
        const auto special = [](__m128i v) {
            const auto eq = [&](char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); };
            const __m128i ctl =
                _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v), eq('\x7F'));
            return _mm_movemask_epi8(
                _mm_or_si128(_mm_or_si128(ctl, eq(' ')), _mm_or_si128(eq(','), eq(';'))));
        };
        const auto at_signs = [](__m128i v) {
            return static_cast<std::uint32_t>(
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('@'))));
        };
        const std::uint32_t ats = at_signs(x) | (at_signs(y) << (n - 16));
        if ((special(x) | special(y)) == 0 && std::popcount(ats) == 1) {
            at = static_cast<std::size_t>(std::countr_zero(ats));
            i = n;
        }
    }
#endif
    for (; i < a.size(); ++i) {
        const std::uint8_t cls = classes[static_cast<unsigned char>(a[i])];
        if (cls == plain) [[likely]]
            continue;
        if (cls == at_sign) {
            if (at != std::string_view::npos) return "it has more than one '@'";
            at = i;
        } else if (cls == separator) {
            return "it holds a ',' or ';' (one address per row)";
        } else if (cls == space) {
            return "it holds a space";
        } else {
            return "it holds a control character";
        }
    }
    // Characters, not bytes: count only when the bytes could exceed 320.
    std::size_t chars = a.size();
    if (chars > 320) {
        chars = 0;
        for (char c : a) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    if (chars > 320) return "it is longer than 320 characters";
    if (at == std::string_view::npos) return "it has no '@'";
    if (at == 0) return "nothing before the '@'";
    if (at + 1 == a.size()) return "nothing after the '@'";
    std::string_view domain = a.substr(at + 1);
    if (domain.front() == '[') {
        if (domain.back() != ']' || domain.size() < 3) return "the domain literal is not closed";
    } else if (domain.find('.') == std::string_view::npos) {
        return "the domain has no '.'";
    } else if (domain.front() == '.' || domain.back() == '.') {
        return "the domain starts or ends with '.'";
    }
    return nullptr;
}

namespace {

// ASCII 'A'-'Z' in lower case, 8 bytes at a time; other bytes (UTF-8 of an
// internationalised domain too) as they are.
[[nodiscard]] std::uint64_t lower_word(std::uint64_t w) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101;
    constexpr std::uint64_t high = 0x8080808080808080;
    const std::uint64_t low7 = w & ~high;
    const std::uint64_t from_a = low7 + (0x80 - 'A') * ones;  // high bit: >= 'A'
    const std::uint64_t past_z = low7 + (0x7F - 'Z') * ones;  // high bit: > 'Z'
    const std::uint64_t upper = (from_a ^ past_z) & ~w & high;
    return w | (upper >> 2);  // 0x80 >> 2 is the case bit, 0x20
}

// Appends the canonical form of `address` to `out`: the domain, after the
// last '@', in lower case.
void append_canonical(std::string_view address, std::string& out) {
#if defined(__SSE2__)
    // Most addresses are 16 to 32 bytes: two overlapping 16-byte blocks,
    // the last '@' from their masks, A-Z after it lowered in both (the
    // bytes where they overlap come out the same from each).
    const std::size_t n = address.size();
    if (n >= 16 && n <= 32) {
        const char* s = address.data();
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + n - 16));
        const __m128i at_sign = _mm_set1_epi8('@');
        const auto in_a = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(a, at_sign)));
        const auto in_b = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(b, at_sign)));
        const int shift = static_cast<int>(n) - 16;  // b's lane i is byte shift + i
        // Lanes of a and of b past the last '@' (none without one).
        int after_a = 16, after_b = 16;
        if (in_b != 0) {
            after_b = 32 - std::countl_zero(in_b) - 1;  // its lane in b
            after_a = after_b + shift;
        } else if (in_a != 0) {
            after_a = 32 - std::countl_zero(in_a) - 1;
            after_b = after_a - shift;
        }
        const __m128i lane = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const auto lower_after = [&](__m128i v, int after) {
            const __m128i domain = _mm_cmpgt_epi8(lane, _mm_set1_epi8(static_cast<char>(after)));
            const __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
                                                _mm_cmpgt_epi8(_mm_set1_epi8('Z' + 1), v));
            return _mm_add_epi8(v,
                                _mm_and_si128(_mm_and_si128(upper, domain), _mm_set1_epi8(0x20)));
        };
        const __m128i la = lower_after(a, after_a);
        const __m128i lb = lower_after(b, after_b);
        merge::append_written(out, n, [&](char* d) {
            _mm_storeu_si128(reinterpret_cast<__m128i*>(d), la);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(d + n - 16), lb);
            return d + n;
        });
        return;
    }
#endif
    const std::size_t from = out.size();
    out.append(address);
    const std::size_t at = address.rfind('@');
    if (at == std::string_view::npos) return;
    char* p = out.data() + from + at + 1;
    char* const end = out.data() + out.size();
    for (; end - p >= 8; p += 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        w = lower_word(w);
        std::memcpy(p, &w, 8);
    }
    for (; p < end; ++p) *p = lower(*p);
}

}  // namespace

void canonical_address(std::string_view address, std::string& out) {
    out.clear();
    append_canonical(address, out);
}

// ---- suppression list ----

void suppression_list::add(std::string_view address, std::string_view reason) {
    if (check_address(address) != nullptr) return;
    canonical_address(address, scratch_);
    set_.try_emplace(scratch_, reason);
}

bool suppression_list::contains(std::string_view address) const {
    return reason(address) != nullptr;
}

const std::string* suppression_list::reason(std::string_view address) const {
    if (set_.empty()) return nullptr;
    canonical_address(address, scratch_);
    const auto it = set_.find(scratch_);
    return it == set_.end() ? nullptr : &it->second;
}

std::optional<source_error> suppression_list::load_db(const std::string& path) {
    store::store_options o;
    o.db = path;
    o.read_only = true;
    auto db = store::open_store(o);
    const std::string shown = store::redact(path);
    if (!db)
        return source_error{db.error(),
                            fmt::format("suppression database {}: {} (it is made by `salvo listen "
                                        "--db {}`; check the path)",
                                        shown, db.error().message(), shown)};
    // The reason names the database: its file name, or the URL's database.
    const std::string name = store::is_postgresql_url(path)
                                 ? shown.substr(shown.find_last_of('/') + 1)
                                 : std::filesystem::path(path).filename().string();
    std::string why;
    const auto ec = (*db)->for_each_suppression([&](const store::suppression& s) {
        why = s.reason + " (" + name + ")";
        add(s.address, why);
    });
    if (ec)
        return source_error{ec, fmt::format("suppression database {}: {}", shown, ec.message())};
    return std::nullopt;
}

std::optional<source_error> suppression_list::load_file(const std::string& path,
                                                        const std::string& email_column) {
    auto l = load(path, email_column);
    if (!l) return l.error();
    if (set_.empty()) {
        set_ = std::move(l->set_);
    } else {
        for (auto& [address, why] : l->set_) set_.try_emplace(address, std::move(why));
    }
    return std::nullopt;
}

boost::system::result<suppression_list, source_error> suppression_list::load(
    const std::string& path, const std::string& email_column) {
    source_options o;
    o.format = input_format::csv;
    auto src = open_source(path, o);
    if (!src) return src.error();
    recipient_source& s = **src;
    suppression_list list;
    // One address per line reads as a one-column CSV whose "header" is the
    // first address.
    std::optional<std::size_t> col;
    if (s.fields().size() == 1 && s.fields()[0].name.find('@') != std::string::npos) {
        list.add(s.fields()[0].name);
        col = 0;
    } else {
        col = find_field(s.fields(), email_column);
        if (!col) col = find_field(s.fields(), "DeliveryAddress");
        if (!col) col = find_field(s.fields(), "email");
        if (!col && s.fields().size() == 1) col = 0;
    }
    if (!col) {
        return source_error{
            make_error_code(errc::no_email_column),
            fmt::format("{}: the suppression list has no '{}' column", s.name(), email_column)};
    }
    chunk c;
    for (;;) {
        auto more = s.next_chunk(c);
        if (!more) return more.error();
        for (std::size_t i = 0; i < c.size(); ++i) {
            std::string_view v = c.values(i)[*col];
            if (!merge::is_absent(v)) list.add(v);
        }
        if (!*more) break;
    }
    return list;
}

// ---- validator ----

boost::system::result<validator, source_error> validator::create(const std::vector<field>& fields,
                                                                 const validate_options& options,
                                                                 const suppression_list* suppressed,
                                                                 std::string source_name) {
    validator v;
    auto email = find_field(fields, options.email_column);
    if (!email) email = find_field(fields, "DeliveryAddress");
    if (!email) {
        std::string names;
        for (const auto& f : fields) names += (names.empty() ? "" : ", ") + f.name;
        return source_error{
            make_error_code(errc::no_email_column),
            fields.empty()
                ? fmt::format("{}: no fields (an empty input?), so no '{}' column", source_name,
                              options.email_column)
                : fmt::format("{}: no '{}' column (the fields are: {}); name the email column "
                              "in the job file with \"recipients\": {{\"email\": \"COLUMN\"}} "
                              "(or --set recipients.email=COLUMN)",
                              source_name, options.email_column, names)};
    }
    v.email_ = *email;
    v.email_label_ = fields[*email].name;
    v.name_ = find_field(fields, options.name_column);
    v.source_name_ = std::move(source_name);
    v.suppressed_ = suppressed;
    if (options.dedupe) v.seen_ = std::make_unique<address_set>(options.temp_dir);
    v.input_bytes_ = options.input_bytes;
    if (options.shard_count != 0 && options.shard_index >= options.shard_count)
        return source_error{
            make_error_code(errc::bad_option),
            fmt::format("shard {} of {}: the shard must be below {}", options.shard_index,
                        options.shard_count, options.shard_count)};
    v.shard_index_ = options.shard_index;
    v.shard_count_ = options.shard_count;
    return v;
}

injection::recipient validator::recipient_of(merge::row_view values,
                                             std::uint64_t row) const noexcept {
    const auto value = [&](std::size_t column) {
        return column < values.size() && !merge::is_absent(values[column]) ? values[column]
                                                                           : std::string_view{};
    };
    injection::recipient r;
    r.address = value(email_);
    if (name_) r.name = value(*name_);
    r.row = values;
    r.id = row;
    return r;
}

boost::system::result<validity, source_error> validator::check(const chunk& c, std::size_t i,
                                                               std::string& reason) {
    const row_info& info = c.info(i);
    const bool sharded = shard_count_ > 1;
    // A row without a usable address belongs to the shard of its row number.
    const auto invalid_here = [&] {
        return !sharded || shard_of_row(info.row, shard_count_) == shard_index_;
    };
    if (!info.valid()) {
        if (!invalid_here()) return validity::other_shard;
        reason.assign(info.message);
        return validity::invalid;
    }
    auto values = c.values(i);
    std::string_view address = email_ < values.size() ? values[email_] : std::string_view{};
    if (address.empty()) {
        if (!invalid_here()) return validity::other_shard;
        reason = detail::row_message(source_name_, info.row, info.line, "field '{}' is {}",
                                     email_label_, merge::is_absent(address) ? "missing" : "empty");
        return validity::invalid;
    }
    if (const char* why = check_address(address)) {
        if (!invalid_here()) return validity::other_shard;
        reason = detail::row_message(source_name_, info.row, info.line,
                                     "field '{}': '{}' is not a usable address: {}", email_label_,
                                     shown(address), why);
        return validity::invalid;
    }
    // The canonical address and its hash: from prepare() when it ran for
    // this chunk (then the dedupe slot of a later row is prefetched), else
    // worked out here, only when sharding or dedupe needs them.
    std::string_view canonical;
    std::uint64_t hash = 0;
    const std::size_t n = ahead_hash_.size();
    const bool prepared = n == c.size() && n != 0 && ahead_first_row_ == c.info(0).row;
    if (prepared) {
        if (seen_) {  // the text is kept only for dedupe
            const std::uint32_t from = i == 0 ? 0 : ahead_end_[i - 1];
            canonical = std::string_view(ahead_text_).substr(from, ahead_end_[i] - from);
        }
        hash = ahead_hash_[i];
    } else if (sharded || seen_) {
        canonical_address(address, scratch_);
        canonical = scratch_;
        hash = address_set::hash_of(canonical);
    }
    if (sharded && shard_of_hash(hash, shard_count_) != shard_index_) return validity::other_shard;
    if (const std::string* why = suppressed_ ? suppressed_->reason(address) : nullptr) {
        reason = detail::row_message(source_name_, info.row, info.line,
                                     "field '{}': '{}' is on the suppression list{}{}",
                                     email_label_, shown(address), why->empty() ? "" : ": ", *why);
        return validity::suppressed;
    }
    if (seen_) {
        if (prepared) {
            constexpr std::size_t distance = 8;  // prefetch a few rows ahead
            if (i + distance < n) seen_->prefetch(ahead_hash_[i + distance]);
        }
        auto earlier = seen_->insert_row(canonical, info.row, hash);
        if (!earlier) return earlier.error();
        if (*earlier) {
            reason = detail::row_message(source_name_, info.row, info.line,
                                         "field '{}': '{}' repeats row {} (sent once, from there)",
                                         email_label_, shown(address), **earlier);
            return validity::duplicate;
        }
    }
    return validity::valid;
}

void validator::prepare(const chunk& c) {
    ahead_text_.clear();
    ahead_end_.clear();
    ahead_hash_.clear();
    if ((!seen_ && shard_count_ <= 1) || c.size() == 0) return;
    ahead_first_row_ = c.info(0).row;
    if (seen_ && !sized_ && input_bytes_ != 0 && seen_->size() == 0) {
        // Rows in the file ~ its size over this chunk's bytes a row: the
        // input bytes the chunk was read from (an NDJSON line's keys and
        // quotes included), else its values and one separator each. The
        // table is sized once for them, to be 75% full at the end. The first
        // chunk is a sample: an estimate up to 1/16 short fills the table to
        // 80% (where it grows), and costs no rebuild. No margin is added on
        // top: it would be memory held whenever the estimate is right.
        sized_ = true;
        std::uint64_t bytes = c.source_bytes();
        if (bytes == 0)
            for (std::size_t i = 0; i < c.size(); ++i)
                for (const auto v : c.values(i)) bytes += v.size() + 1;
        const std::uint64_t per_row = std::max<std::uint64_t>(1, bytes / c.size());
        // A shard keeps about 1/N of the addresses.
        const std::uint64_t shards = std::max<std::uint32_t>(1, shard_count_);
        const std::uint64_t rows = input_bytes_ / per_row / shards;
        seen_->reserve(
            static_cast<std::size_t>(std::min<std::uint64_t>(rows, std::uint64_t{1} << 31)));
    }
    for (std::size_t i = 0; i < c.size(); ++i) {
        const auto values = c.values(i);
        const std::string_view address = email_ < values.size() && !merge::is_absent(values[email_])
                                             ? values[email_]
                                             : std::string_view{};
        if (!seen_) {  // sharding alone needs only the hash
            canonical_address(address, scratch_);
            ahead_hash_.push_back(address_set::hash_of(scratch_));
            continue;
        }
        const std::size_t from = ahead_text_.size();
        append_canonical(address, ahead_text_);
        ahead_hash_.push_back(address_set::hash_of(std::string_view(ahead_text_).substr(from)));
        ahead_end_.push_back(static_cast<std::uint32_t>(ahead_text_.size()));
    }
    if (seen_)
        for (std::size_t i = 0; i < c.size() && i < 8; ++i) seen_->prefetch(ahead_hash_[i]);
}

}  // namespace salvo::engine
