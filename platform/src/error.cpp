#include <salvo/platform/error.hpp>

#include <string>

namespace salvo::platform {
namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "salvo.platform"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::empty_body:
                return "the body is empty";
            case errc::bad_json:
                return "the body is not a JSON object or an array of objects";
            case errc::not_an_object:
                return "an element of the JSON array is not an object";
            case errc::bad_form:
                return "the body is not form data (name=value&...)";
            case errc::bad_percent_encoding:
                return "bad percent-encoding in the form data (% must be followed by two hex "
                       "digits)";
            case errc::missing_type:
                return "an event has no Type";
            case errc::bad_date_time:
                return "DateTime is neither RFC 1123 (Tue, 14 Aug 2018 16:35:37 GMT) nor ISO 8601";
            case errc::bad_number:
                return "a numeric field is not a number";
            case errc::unsupported_media_type:
                return "Content-Type is neither application/json nor "
                       "application/x-www-form-urlencoded";
            case errc::too_many_events:
                return "too many events in one body";
        }
        return "unknown platform error";
    }
};

}  // namespace

const boost::system::error_category& platform_category() noexcept {
    static const category c;
    return c;
}

}  // namespace salvo::platform
