#include <salvo/engine/error.hpp>

#include <boost/assert/source_location.hpp>

#include <stdexcept>

namespace salvo::engine {
namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "salvo.engine"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::file_not_found:
                return "no such file";
            case errc::permission_denied:
                return "permission denied";
            case errc::read_failed:
                return "read error";
            case errc::not_the_format:
                return "not in the expected format";
            case errc::bad_gzip:
                return "corrupt gzip data";
            case errc::unknown_format:
                return "unknown input format";
            case errc::unknown_encoding:
                return "unknown encoding";
            case errc::wrong_encoding:
                return "input is not UTF-8";
            case errc::no_email_column:
                return "no email column";
            case errc::bad_option:
                return "bad source option";
            case errc::bad_quoting:
                return "bad quoting";
            case errc::field_count:
                return "wrong number of fields";
            case errc::record_too_long:
                return "record too long";
            case errc::bad_json:
                return "bad JSON";
            case errc::nested_value:
                return "nested JSON value";
            case errc::invalid_utf8:
                return "invalid UTF-8";
            case errc::rejected_by_host:
                return "row rejected by the host program";
            case errc::bad_address:
                return "invalid email address";
            case errc::missing_address:
                return "no email address";
            case errc::nul_byte:
                return "NUL byte in a value";
        }
        return "unknown salvo.engine error";
    }
};

}  // namespace

const boost::system::error_category& engine_category() noexcept {
    static const category instance;
    return instance;
}

void throw_exception_from_error(const source_error& e, const boost::source_location&) {
    throw std::runtime_error(e.message);
}

}  // namespace salvo::engine
