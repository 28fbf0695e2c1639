#include "input.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <fcntl.h>
#include <iconv.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace salvo::engine::detail {
namespace {

constexpr std::size_t raw_size = 64 * 1024;
constexpr std::size_t mid_size = 16 * 1024;

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

// gzip data begins with these two bytes (RFC 1952); `p` holds at least two.
bool starts_gzip(const void* p) noexcept {
    const auto* b = static_cast<const unsigned char*>(p);
    return b[0] == 0x1f && b[1] == 0x8b;
}

source_error io_error(const std::string& name, int err) {
    return {make_error_code(errc::read_failed),
            fmt::format("{}: cannot read: {}", name, std::strerror(err))};
}

}  // namespace

struct byte_input::gzip_state {
    z_stream z{};
    bool done = false;  // Z_STREAM_END seen and nothing follows
};

bool parse_encoding(std::string_view name, text_encoding& out) noexcept {
    if (name.empty() || iequals(name, "utf-8") || iequals(name, "utf8")) {
        out = text_encoding::utf8;
    } else if (iequals(name, "windows-1252") || iequals(name, "cp1252")) {
        out = text_encoding::windows_1252;
    } else if (iequals(name, "latin-1") || iequals(name, "latin1") || iequals(name, "iso-8859-1")) {
        out = text_encoding::latin1;
    } else {
        return false;
    }
    return true;
}

byte_input::byte_input(int fd, bool owned, text_encoding enc, std::string display_name)
    : fd_(fd), owned_(owned), enc_(enc), name_(std::move(display_name)) {
    if (enc_ != text_encoding::utf8) {
        iconv_ = iconv_open("UTF-8", enc_ == text_encoding::latin1 ? "ISO-8859-1" : "WINDOWS-1252");
        mid_ = std::make_unique_for_overwrite<char[]>(mid_size);
    }
}

byte_input::~byte_input() {
    if (gz_) inflateEnd(&gz_->z);
    if (iconv_ != nullptr && iconv_ != reinterpret_cast<void*>(-1)) {
        iconv_close(static_cast<iconv_t>(iconv_));
    }
    if (owned_ && fd_ >= 0) ::close(fd_);
}

boost::system::result<int, source_error> open_file(const std::string& path,
                                                   const std::string& display_name) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
            return source_error{make_error_code(errc::file_not_found),
                                fmt::format("{}: no such file", display_name)};
        }
        if (err == EACCES || err == EPERM) {
            return source_error{make_error_code(errc::permission_denied),
                                fmt::format("{}: permission denied", display_name)};
        }
        return io_error(display_name, err);
    }
    return fd;
}

std::uint64_t input_size_hint(const std::string& path) noexcept {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    std::uint64_t hint = 0;
    struct stat st {};
    unsigned char magic[2] = {0, 0};
    unsigned char trailer[4] = {0, 0, 0, 0};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        const auto size = static_cast<std::uint64_t>(st.st_size);
        hint = size;
        // A gzip member is at least 18 bytes: header 10, trailer 8.
        if (size >= 18 && ::pread(fd, magic, 2, 0) == 2 && starts_gzip(magic) &&
            ::pread(fd, trailer, 4, static_cast<off_t>(size - 4)) == 4) {
            std::uint64_t isize = std::uint64_t{trailer[0]} | std::uint64_t{trailer[1]} << 8 |
                                  std::uint64_t{trailer[2]} << 16 | std::uint64_t{trailer[3]} << 24;
            while (isize < size) isize += std::uint64_t{1} << 32;
            hint = isize;
        }
    }
    ::close(fd);
    return hint;
}

std::unique_ptr<byte_input> byte_input::from_fd(int fd, bool owned, text_encoding enc,
                                                std::string display_name) {
    return std::unique_ptr<byte_input>(new byte_input(fd, owned, enc, std::move(display_name)));
}

boost::system::result<void, source_error> byte_input::fill(char* buf, std::size_t& size,
                                                           std::size_t capacity, bool& eof) {
    while (size < capacity && !eof) {
        auto r = read(buf + size, capacity - size);
        if (!r) return r.error();
        if (*r == 0) eof = true;
        size += *r;
    }
    return {};
}

boost::system::result<std::size_t, source_error> byte_input::read_raw(char* dst, std::size_t n) {
    std::size_t got = 0;
    while (got < n && !raw_eof_) {
        ssize_t r = ::read(fd_, dst + got, n - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            // Reading a directory fails here with EISDIR.
            if (errno == EISDIR) {
                return source_error{make_error_code(errc::not_the_format),
                                    fmt::format("{}: is a directory", name_)};
            }
            return io_error(name_, errno);
        }
        if (r == 0) raw_eof_ = true;
        got += static_cast<std::size_t>(r);
    }
    return got;
}

boost::system::result<std::size_t, source_error> byte_input::inflate_some(char* dst,
                                                                          std::size_t n) {
    z_stream& z = gz_->z;
    std::size_t got = 0;
    while (got < n && !gz_->done) {
        if (raw_begin_ == raw_end_) {
            auto r = read_raw(raw_.get(), raw_size);
            if (!r) return r.error();
            raw_begin_ = 0;
            raw_end_ = *r;
            if (*r == 0) {
                return source_error{make_error_code(errc::bad_gzip),
                                    fmt::format("{}: gzip data ends early", name_)};
            }
        }
        z.next_in = reinterpret_cast<Bytef*>(raw_.get() + raw_begin_);
        z.avail_in = static_cast<uInt>(raw_end_ - raw_begin_);
        z.next_out = reinterpret_cast<Bytef*>(dst + got);
        z.avail_out = static_cast<uInt>(n - got);
        int rc = ::inflate(&z, Z_NO_FLUSH);
        std::size_t used = (raw_end_ - raw_begin_) - z.avail_in;
        raw_begin_ += used;
        got = n - z.avail_out;
        if (rc == Z_STREAM_END) {
            // Concatenated members (`cat a.gz b.gz`) are one stream to gzip.
            if (raw_begin_ == raw_end_) {
                auto r = read_raw(raw_.get(), raw_size);
                if (!r) return r.error();
                raw_begin_ = 0;
                raw_end_ = *r;
            }
            if (raw_begin_ == raw_end_) {
                gz_->done = true;
            } else {
                ::inflateReset(&z);
            }
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return source_error{make_error_code(errc::bad_gzip),
                                fmt::format("{}: corrupt gzip data ({})", name_,
                                            z.msg != nullptr ? z.msg : "inflate failed")};
        }
    }
    return got;
}

boost::system::result<std::size_t, source_error> byte_input::read_decoded(char* dst,
                                                                          std::size_t n) {
    if (!sniffed_) {
        sniffed_ = true;
        raw_ = std::make_unique_for_overwrite<char[]>(raw_size);
        auto r = read_raw(raw_.get(), raw_size);
        if (!r) return r.error();
        raw_begin_ = 0;
        raw_end_ = *r;
        if (raw_end_ >= 2 && starts_gzip(raw_.get())) {
            gz_ = std::make_unique<gzip_state>();
            // 15 + 32: gzip or zlib header, detected.
            if (inflateInit2(&gz_->z, 15 + 32) != Z_OK) {
                return source_error{make_error_code(errc::bad_gzip),
                                    fmt::format("{}: cannot start gzip decoder", name_)};
            }
        }
    }
    if (gz_) return inflate_some(dst, n);
    std::size_t got = 0;
    if (raw_begin_ < raw_end_) {
        got = std::min(n, raw_end_ - raw_begin_);
        std::memcpy(dst, raw_.get() + raw_begin_, got);
        raw_begin_ += got;
    }
    if (got < n) {
        auto r = read_raw(dst + got, n - got);
        if (!r) return r.error();
        got += *r;
    }
    return got;
}

boost::system::result<std::size_t, source_error> byte_input::transcode_some(char* dst,
                                                                            std::size_t n) {
    auto cd = static_cast<iconv_t>(iconv_);
    std::size_t got = 0;
    // Loop while 4 bytes of room remain: then one more character always fits.
    while (got + 4 <= n) {
        if (mid_begin_ == mid_end_) {
            if (decoded_eof_) break;
            auto r = read_decoded(mid_.get(), mid_size);
            if (!r) return r.error();
            mid_begin_ = 0;
            mid_end_ = *r;
            if (*r == 0) {
                decoded_eof_ = true;
                break;
            }
        }
        char* in = mid_.get() + mid_begin_;
        std::size_t in_left = mid_end_ - mid_begin_;
        char* out = dst + got;
        std::size_t out_left = n - got;
        std::size_t rc = ::iconv(cd, &in, &in_left, &out, &out_left);
        int err = errno;
        got = static_cast<std::size_t>(out - dst);
        mid_begin_ = mid_end_ - in_left;
        if (rc != static_cast<std::size_t>(-1)) continue;
        if (err == EILSEQ && n - got >= 2) {
            // Bytes windows-1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D)
            // become the C1 controls of the same number, as WHATWG maps them.
            auto b = static_cast<unsigned char>(mid_[mid_begin_]);
            dst[got++] = static_cast<char>(0xC0 | (b >> 6));
            dst[got++] = static_cast<char>(0x80 | (b & 0x3F));
            ++mid_begin_;
        } else {
            break;  // E2BIG: the output is full
        }
    }
    return got;
}

boost::system::result<std::size_t, source_error> byte_input::read(char* dst, std::size_t n) {
    if (iconv_ == nullptr) return read_decoded(dst, n);
    std::size_t got = std::min(n, pending_.size());
    std::memcpy(dst, pending_.data(), got);
    pending_.erase(0, got);
    while (got < n) {
        if (n - got >= 4) {
            auto r = transcode_some(dst + got, n - got);
            if (!r) return r.error();
            if (*r == 0) break;
            got += *r;
            continue;
        }
        // A tail too small for one character: transcode into scratch space
        // and keep what does not fit for the next call.
        char tmp[8];
        auto r = transcode_some(tmp, sizeof tmp);
        if (!r) return r.error();
        std::size_t fit = std::min(*r, n - got);
        std::memcpy(dst + got, tmp, fit);
        got += fit;
        pending_.assign(tmp + fit, *r - fit);
        break;
    }
    return got;
}

boost::system::result<bool, source_error> byte_input::skip_line(char* buf, std::size_t capacity,
                                                                std::size_t& size,
                                                                std::size_t start, bool& eof) {
    const void* lf = std::memchr(buf + start, '\n', size - start);
    while (lf == nullptr && !eof) {
        auto r = read(buf, capacity);
        if (!r) return r.error();
        if (*r == 0) eof = true;
        size = *r;
        start = 0;
        lf = std::memchr(buf, '\n', size);
    }
    if (lf == nullptr) {
        size = 0;
        return false;
    }
    const auto next = static_cast<std::size_t>(static_cast<const char*>(lf) - buf) + 1;
    std::memmove(buf, buf + next, size - next);
    size -= next;
    return true;
}

}  // namespace salvo::engine::detail
