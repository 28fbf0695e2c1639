// RFC 1123 and ISO 8601 date-times to milliseconds since the epoch, UTC.
#include <salvo/platform/timestamp.hpp>

#include <array>
#include <cstdio>

namespace salvo::platform {
namespace {

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic
// Gregorian date.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr bool leap(std::int64_t y) noexcept {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr unsigned days_in(std::int64_t y, unsigned m) noexcept {
    constexpr std::array<unsigned, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

// A small cursor over the text.
struct cursor {
    std::string_view s;
    std::size_t i = 0;

    bool done() const noexcept { return i >= s.size(); }
    char peek() const noexcept { return done() ? '\0' : s[i]; }
    bool eat(char c) noexcept {
        if (peek() != c) return false;
        ++i;
        return true;
    }
    void spaces() noexcept {
        while (peek() == ' ') ++i;
    }
    // Exactly `n` digits (n ≥ 1), or min..max digits when max > n.
    bool digits(unsigned min, unsigned max, std::int64_t& out) noexcept {
        out = 0;
        unsigned n = 0;
        while (n < max && peek() >= '0' && peek() <= '9') {
            out = out * 10 + (s[i] - '0');
            ++i;
            ++n;
        }
        return n >= min;
    }
};

std::optional<std::int64_t> compose(std::int64_t y, std::int64_t mo, std::int64_t d, std::int64_t h,
                                    std::int64_t mi, std::int64_t sec, std::int64_t ms,
                                    std::int64_t offset_minutes) noexcept {
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
        d > days_in(y, static_cast<unsigned>(mo)) || h > 23 || mi > 59 || sec > 60)
        return std::nullopt;
    const std::int64_t days =
        days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    const std::int64_t seconds = days * 86400 + h * 3600 + mi * 60 + sec - offset_minutes * 60;
    return seconds * 1000 + ms;
}

int month_named(std::string_view m) noexcept {
    static constexpr std::array<std::string_view, 12> names{
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
    if (m.size() != 3) return 0;
    char low[3];
    for (std::size_t k = 0; k < 3; ++k)
        low[k] = (m[k] >= 'A' && m[k] <= 'Z') ? static_cast<char>(m[k] + 32) : m[k];
    for (std::size_t k = 0; k < names.size(); ++k)
        if (std::string_view(low, 3) == names[k]) return static_cast<int>(k + 1);
    return 0;
}

// `Z`, `±hh:mm`, `±hhmm`, `±hh`; nothing at all is UTC.
bool offset(cursor& c, std::int64_t& minutes) noexcept {
    minutes = 0;
    if (c.done() || c.eat('Z') || c.eat('z')) return true;
    const char sign = c.peek();
    if (sign != '+' && sign != '-') return false;
    ++c.i;
    std::int64_t hh = 0, mm = 0;
    if (!c.digits(2, 2, hh)) return false;
    const bool colon = c.eat(':');
    if (!c.done() && !c.digits(2, 2, mm)) return false;
    if (colon && mm == 0 && c.s[c.i - 1] == ':') return false;
    if (hh > 23 || mm > 59) return false;
    minutes = (hh * 60 + mm) * (sign == '-' ? -1 : 1);
    return true;
}

}  // namespace

std::optional<std::int64_t> parse_rfc1123(std::string_view s) noexcept {
    cursor c{s};
    c.spaces();
    // Optional day name and comma.
    if (const auto comma = s.find(','); comma != std::string_view::npos && comma < 12) {
        c.i = comma + 1;
    }
    c.spaces();
    std::int64_t d = 0, y = 0, h = 0, mi = 0, sec = 0;
    if (!c.digits(1, 2, d)) return std::nullopt;
    c.spaces();
    const std::size_t m_at = c.i;
    while (!c.done() && c.peek() != ' ') ++c.i;
    const int mo = month_named(s.substr(m_at, c.i - m_at));
    if (mo == 0) return std::nullopt;
    c.spaces();
    if (!c.digits(4, 4, y)) return std::nullopt;
    c.spaces();
    if (!c.digits(2, 2, h) || !c.eat(':') || !c.digits(2, 2, mi)) return std::nullopt;
    if (c.eat(':') && !c.digits(2, 2, sec)) return std::nullopt;
    c.spaces();
    std::int64_t minutes = 0;
    const std::string_view zone = s.substr(c.i);
    if (zone == "GMT" || zone == "UT" || zone == "UTC" || zone == "Z" || zone.empty()) {
        minutes = 0;
    } else {
        cursor z{zone};
        std::int64_t hhmm = 0;
        const char sign = z.peek();
        if ((sign != '+' && sign != '-')) return std::nullopt;
        ++z.i;
        if (!z.digits(4, 4, hhmm) || !z.done()) return std::nullopt;
        minutes = (hhmm / 100 * 60 + hhmm % 100) * (sign == '-' ? -1 : 1);
    }
    return compose(y, mo, d, h, mi, sec, 0, minutes);
}

std::optional<std::int64_t> parse_iso8601(std::string_view s) noexcept {
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    cursor c{s};
    c.spaces();
    std::int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
    if (!c.digits(4, 4, y) || !c.eat('-') || !c.digits(2, 2, mo) || !c.eat('-') ||
        !c.digits(2, 2, d))
        return std::nullopt;
    if (c.done()) return compose(y, mo, d, 0, 0, 0, 0, 0);
    if (!c.eat('T') && !c.eat('t') && !c.eat(' ')) return std::nullopt;
    if (!c.digits(2, 2, h) || !c.eat(':') || !c.digits(2, 2, mi)) return std::nullopt;
    if (c.eat(':')) {
        if (!c.digits(2, 2, sec)) return std::nullopt;
        if (c.eat('.') || c.eat(',')) {
            std::int64_t frac = 0;
            const std::size_t at = c.i;
            if (!c.digits(1, 9, frac)) return std::nullopt;
            auto n = c.i - at;
            while (n < 3) {
                frac *= 10;
                ++n;
            }
            while (n > 3) {
                frac /= 10;
                --n;
            }
            ms = frac;
            while (c.peek() >= '0' && c.peek() <= '9') ++c.i;  // beyond nanoseconds
        }
    }
    std::int64_t minutes = 0;
    if (!offset(c, minutes) || !c.done()) return std::nullopt;
    return compose(y, mo, d, h, mi, sec, ms, minutes);
}

std::optional<std::int64_t> parse_date_time(std::string_view s) noexcept {
    if (auto t = parse_iso8601(s)) return t;
    return parse_rfc1123(s);
}

std::string format_iso8601(std::int64_t ms) {
    std::int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    const std::int64_t milli = ms - secs * 1000;
    std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    const std::int64_t rem = secs - days * 86400;
    // civil_from_days
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                  static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60),
                  static_cast<long long>(milli));
    return buf;
}

}  // namespace salvo::platform
