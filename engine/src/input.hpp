#pragma once
// The byte layer under every file source: a file descriptor (a file or
// standard input), transparently gunzipped when the bytes start with the
// gzip magic, and transcoded to UTF-8 with iconv when the job names a
// single-byte encoding. Private to engine/.

#include <salvo/engine/error.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace salvo::engine::detail {

enum class text_encoding { utf8, windows_1252, latin1 };

/// Parses an `encoding` option ("utf-8", "windows-1252", "cp1252",
/// "latin-1", "iso-8859-1", any case); false when unknown.
[[nodiscard]] bool parse_encoding(std::string_view name, text_encoding& out) noexcept;

/// Opens `path` for reading; errors name the file as `display_name`.
[[nodiscard]] boost::system::result<int, source_error> open_file(const std::string& path,
                                                                 const std::string& display_name);

/// About how many bytes reading `path` yields, for sizing by it: the file's
/// size, or for gzip data (by its magic bytes, as byte_input detects it)
/// the uncompressed size its trailer records. That field holds the size
/// modulo 4 GiB, of the last member only, so the hint is the smallest value
/// with those low 32 bits that is not below the compressed size: exact up
/// to 4 GiB, low (never high) beyond or for several members. 0 when the
/// file cannot be read.
[[nodiscard]] std::uint64_t input_size_hint(const std::string& path) noexcept;

/// A forward-only byte stream. Not thread-safe; owned by one source.
class byte_input {
  public:
    byte_input(const byte_input&) = delete;
    byte_input& operator=(const byte_input&) = delete;
    ~byte_input();

    /// Reads from `fd`; closes it at the end when `owned`.
    [[nodiscard]] static std::unique_ptr<byte_input> from_fd(int fd, bool owned, text_encoding enc,
                                                             std::string display_name);

    /// Reads up to `n` bytes into `dst` (fewer when the input ends).
    /// Returns 0 only at the end.
    [[nodiscard]] boost::system::result<std::size_t, source_error> read(char* dst, std::size_t n);

    /// Reads into buf[size, capacity) until it is full or the input ends
    /// (then sets `eof`); `size` grows by what was read. Does nothing once
    /// `eof` is set.
    [[nodiscard]] boost::system::result<void, source_error> fill(char* buf, std::size_t& size,
                                                                 std::size_t capacity, bool& eof);

    /// Skips to the byte after the next line end: looks in buf[start, size),
    /// then reads on into buf (`capacity` bytes) while none is found.
    /// Afterwards buf[0, size) holds what follows that line end; returns
    /// false when the input ended first (`eof` set, `size` 0). For a record
    /// over the length limit, which both readers skip to its next line.
    [[nodiscard]] boost::system::result<bool, source_error> skip_line(char* buf,
                                                                      std::size_t capacity,
                                                                      std::size_t& size,
                                                                      std::size_t start, bool& eof);

  private:
    byte_input(int fd, bool owned, text_encoding enc, std::string display_name);
    boost::system::result<std::size_t, source_error> read_decoded(char* dst, std::size_t n);
    boost::system::result<std::size_t, source_error> read_raw(char* dst, std::size_t n);
    boost::system::result<std::size_t, source_error> inflate_some(char* dst, std::size_t n);
    boost::system::result<std::size_t, source_error> transcode_some(char* dst, std::size_t n);

    struct gzip_state;
    int fd_;
    bool owned_;
    text_encoding enc_;
    std::string name_;
    bool sniffed_ = false;
    bool raw_eof_ = false;
    std::unique_ptr<gzip_state> gz_;
    void* iconv_ = nullptr;        // iconv_t
    std::unique_ptr<char[]> raw_;  // compressed bytes awaiting inflate
    std::size_t raw_begin_ = 0, raw_end_ = 0;
    std::unique_ptr<char[]> mid_;  // decoded bytes awaiting transcoding
    std::size_t mid_begin_ = 0, mid_end_ = 0;
    bool decoded_eof_ = false;
    std::string pending_;  // transcoded bytes that did not fit the last read
};

}  // namespace salvo::engine::detail
