#pragma once
// The ledger's on-disk formats, shared by its writer (ledger.cpp) and its
// recovery (ledger_open.cpp): journal framing, row lists, results lines.
// Private to the engine.

#include "ledger.hpp"

#include <zlib.h>
#include <boost/system/error_code.hpp>

#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace salvo::engine::detail {

namespace sys = boost::system;

constexpr std::string_view fate_names[fate_count] = {"accepted",  "rejected",   "failed", "invalid",
                                                     "duplicate", "suppressed", "unknown"};

inline sys::error_code last_error() {
    return {errno, sys::system_category()};
}

inline std::uint32_t crc_of(std::string_view payload) {
    return static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(payload.data()),
                                            static_cast<uInt>(payload.size())));
}

// Appends one journal record: `<crc32 8 hex> <payload>\n`.
inline void frame(std::string& out, std::string_view payload) {
    static constexpr char hex[] = "0123456789abcdef";
    const std::uint32_t crc = crc_of(payload);
    char head[9];
    for (int i = 0; i < 8; ++i) head[i] = hex[(crc >> (28 - 4 * i)) & 0xF];
    head[8] = ' ';
    out.append(head, 9);
    out.append(payload);
    out.push_back('\n');
}

// Parses a framed line (without its newline); the payload on success.
inline std::optional<std::string_view> unframe(std::string_view line) {
    if (line.size() < 9 || line[8] != ' ') return std::nullopt;
    std::uint32_t crc = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + 8, crc, 16);
    if (ec != std::errc() || p != line.data() + 8) return std::nullopt;
    const std::string_view payload = line.substr(9);
    if (crc_of(payload) != crc) return std::nullopt;
    return payload;
}

inline bool write_fd_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

inline std::uint64_t parse_u64(std::string_view s) {
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

inline void mark(std::vector<bool>& bits, std::uint64_t row) {
    if (row >= bits.size()) bits.resize(std::max<std::size_t>(row + 1, bits.size() * 2));
    bits[row] = true;
}

// Rows whose fate is failed or unknown, or whose line is ambiguous, are
// kept in ledger::notable_ as `row << 8 | code`, code = 1 + fate, with the
// high bit when the line is ambiguous: sparse, because most rows are plain.
constexpr std::uint8_t ambiguous_bit = 0x80;

inline bool is_notable(fate f, bool ambiguous) {
    return ambiguous || f == fate::failed || f == fate::unknown;
}

inline std::uint64_t notable_entry(std::uint64_t row, fate f, bool ambiguous) {
    return row << 8 | ((static_cast<unsigned>(f) + 1) | (ambiguous ? ambiguous_bit : 0));
}

inline fate code_fate(std::uint8_t code) {
    return static_cast<fate>((code & ~ambiguous_bit) - 1);
}

inline bool is_set(const std::vector<bool>& bits, std::uint64_t row) {
    return row < bits.size() && bits[row];
}

// Takes the entries of `rows` (ascending) out of `notable`, calling
// f(row, code) for each one found.
template <class F>
inline void take_notable(std::vector<std::uint64_t>& notable, std::span<const std::uint64_t> rows,
                         F&& f) {
    std::sort(notable.begin(), notable.end());
    auto out = notable.begin();
    auto want = rows.begin();
    for (auto it = notable.begin(); it != notable.end(); ++it) {
        const std::uint64_t row = *it >> 8;
        while (want != rows.end() && *want < row) ++want;
        if (want != rows.end() && *want == row) {
            f(row, static_cast<std::uint8_t>(*it & 0xFF));
            continue;
        }
        *out++ = *it;
    }
    notable.erase(out, notable.end());
}

// Appends the row list of a D, U, R or A record: ` <row>` each, a run of
// consecutive rows as ` <first>-<last>` (most requests hold a run).
inline void append_rows(std::string& payload, std::span<const std::uint64_t> rows) {
    char digits[48];
    for (std::size_t i = 0; i < rows.size();) {
        std::size_t j = i;
        while (j + 1 < rows.size() && rows[j + 1] == rows[j] + 1) ++j;
        payload += ' ';
        char* end = std::to_chars(digits, digits + 24, rows[i]).ptr;
        if (j > i) {
            *end++ = '-';
            end = std::to_chars(end, digits + sizeof digits, rows[j]).ptr;
        }
        payload.append(digits, end);
        i = j + 1;
    }
}

// Calls f(row) for each row of a list that append_rows() wrote (plain
// numbers, as older journals have them, or runs `a-b`). Stops at a token
// that is not a row or run: `~` in an A record.
template <class F>
inline std::size_t for_each_row(std::string_view list, F&& f) {
    std::size_t i = 0;
    while (i < list.size()) {
        const std::size_t sp = std::min(list.find(' ', i), list.size());
        const std::string_view token = list.substr(i, sp - i);
        if (!token.empty()) {
            if (token[0] < '0' || token[0] > '9') return i;
            const std::size_t dash = token.find('-');
            if (dash == std::string_view::npos) {
                f(parse_u64(token));
            } else {
                const std::uint64_t first = parse_u64(token.substr(0, dash));
                const std::uint64_t last = parse_u64(token.substr(dash + 1));
                for (std::uint64_t r = first; r <= last && last - first < (1u << 24); ++r) f(r);
            }
        }
        i = sp + 1;
    }
    return list.size();
}

// What a fate record says: the row, its status and whether it was ambiguous.
// The record's payload is the exact results line, which starts
// `{"row":N,` and carries `"status":"…"`.
struct fate_record {
    std::uint64_t row = 0;
    std::optional<fate> status;
    bool ambiguous = false;
};

inline fate_record read_fate(std::string_view line) {
    fate_record r;
    constexpr std::string_view row_key = "{\"row\":";
    if (line.substr(0, row_key.size()) == row_key) r.row = parse_u64(line.substr(row_key.size()));
    constexpr std::string_view status_key = "\"status\":\"";
    if (const auto at = line.find(status_key); at != std::string_view::npos) {
        const auto start = at + status_key.size();
        const auto end = line.find('"', start);
        if (end != std::string_view::npos) r.status = parse_fate(line.substr(start, end - start));
    }
    r.ambiguous = line.find("\"ambiguous\":true") != std::string_view::npos;
    return r;
}

/// The ledger_io that does the system calls (ledger.cpp).
ledger_io& system_ledger_io();

// What for_each_line() read past its last whole line.
struct line_scan {
    std::uint64_t end = 0;  // file offset just past the last whole line read
    std::string tail;       // the bytes after it (a torn last line), if read to the end
};

// Reads `fd` from offset `from` in 64 KiB chunks and calls
// f(line without its newline, the line's file offset) for each whole line,
// until f returns false or the file ends. The one line reader of the
// journal's recovery, the results file's tail and the results rebuild.
// False on a read error (errno set).
template <class F>
bool for_each_line(int fd, std::uint64_t from, line_scan& out, F&& f) {
    out = line_scan{from, {}};
    if (::lseek(fd, static_cast<off_t>(from), SEEK_SET) < 0) return false;
    std::string pending;
    char chunk[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (n == 0) break;
        pending.append(chunk, static_cast<std::size_t>(n));
        std::size_t start = 0;
        for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos;
             start = nl + 1) {
            if (!f(std::string_view(pending.data() + start, nl - start), out.end)) return true;
            out.end += nl + 1 - start;
        }
        pending.erase(0, start);
    }
    out.tail = std::move(pending);
    return true;
}

}  // namespace salvo::engine::detail
