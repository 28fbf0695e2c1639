#pragma once
/// Errors of salvo::platform: why a notification body or a field in it could
/// not be read. Every code is permanent: the same bytes fail the same way.

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace salvo::platform {

enum class errc {
    empty_body = 1,          ///< nothing to parse
    bad_json,                ///< not JSON, or not an object / array of objects
    not_an_object,           ///< an array element that is not an object
    bad_form,                ///< form data that is not name=value pairs
    bad_percent_encoding,    ///< `%` not followed by two hex digits
    missing_type,            ///< an event without `Type`
    bad_date_time,           ///< `DateTime` in neither RFC 1123 nor ISO 8601
    bad_number,              ///< a numeric field (FailureType, TrackingType…) that is not one
    unsupported_media_type,  ///< neither JSON nor form
    too_many_events,         ///< an array longer than the parser's limit
};

[[nodiscard]] const boost::system::error_category& platform_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), platform_category()};
}

}  // namespace salvo::platform

template <>
struct boost::system::is_error_code_enum<salvo::platform::errc> : std::true_type {};
