#pragma once
/// Error codes of salvo::emulator (start-up failures), in the style of
/// Beast's http/error.hpp. Socket errors are reported as the system's own.

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace salvo::emulator {

enum class errc {
    bad_tls_files = 1,   ///< the certificate or key file could not be loaded
    bad_fault_pattern,   ///< a reject_address pattern is not a valid regex
    record_file_failed,  ///< the record file could not be opened for writing
    bad_options,         ///< zero threads, or a rate outside [0, 1]
    bad_marketing_data,  ///< the marketing data file is not the JSON it should be
};

/// The category of salvo::emulator errors; its name is "salvo.emulator".
[[nodiscard]] const boost::system::error_category& emulator_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), emulator_category()};
}

}  // namespace salvo::emulator

template <>
struct boost::system::is_error_code_enum<salvo::emulator::errc> : std::true_type {};
