#pragma once
/// Error codes of salvo::engine's recipient sources and validation, in the
/// style of Beast's http/error.hpp: an `enum class errc` with its own
/// category, usable as a `boost::system::error_code`. A job-level failure
/// travels as a source_error: the code plus a complete human message that
/// names the file.

#include <boost/system/error_code.hpp>

#include <string>
#include <type_traits>

namespace boost {
struct source_location;
}

namespace salvo::engine {

enum class errc {
    // Job-level: the input cannot be read at all.
    file_not_found = 1,  ///< the input file does not exist.
    permission_denied,   ///< the input exists but cannot be opened.
    read_failed,         ///< an I/O error while reading.
    not_the_format,      ///< the bytes are not CSV/JSON/NDJSON at all.
    bad_gzip,            ///< a `.gz` stream that does not decompress.
    unknown_format,      ///< an explicit format name salvo does not know.
    unknown_encoding,    ///< an `encoding` option salvo does not know.
    wrong_encoding,      ///< a UTF-8 input whose first rows are mostly not UTF-8.
    no_email_column,     ///< the fields hold no email column.
    bad_option,          ///< an option value that cannot work (delimiter, sizes).
    // Row-level: one record is invalid, reading goes on.
    bad_quoting,       ///< a quote in the wrong place, or an unterminated quote.
    field_count,       ///< a record with a different number of fields than the header.
    record_too_long,   ///< a record longer than source_options::max_record_bytes.
    bad_json,          ///< an element or line that is not a JSON object.
    nested_value,      ///< a JSON value that is an object or an array.
    invalid_utf8,      ///< a record with bytes that are not UTF-8.
    rejected_by_host,  ///< a callback source's host marked the row invalid.
    bad_address,       ///< the email column does not hold a usable address.
    missing_address,   ///< the email column is empty or absent.
    nul_byte,          ///< a CSV value holding a NUL byte (a binary or UTF-16 file?).
};

/// The category of salvo::engine errors; its name is "salvo.engine".
[[nodiscard]] const boost::system::error_category& engine_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), engine_category()};
}

/// A job-level error: the code and a complete message ("recipients.csv: no
/// such file"). Messages never hold secrets.
struct source_error {
    boost::system::error_code code;
    std::string message;
};

/// Lets boost::system::result<…, source_error>::value() throw: the exception
/// is a std::runtime_error carrying the message.
[[noreturn]] void throw_exception_from_error(const source_error& e,
                                             const boost::source_location& loc);

}  // namespace salvo::engine

template <>
struct boost::system::is_error_code_enum<salvo::engine::errc> : std::true_type {};
