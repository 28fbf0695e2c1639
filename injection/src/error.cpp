#include <salvo/injection/error.hpp>

#include <stdexcept>
#include <string>

namespace salvo::injection {
namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "salvo.injection"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::bad_credentials:
                return "bad credentials";
            case errc::bad_limits:
                return "bad limits";
            case errc::bad_message:
                return "the message breaks the Injection API contract";
            case errc::server_mode_refused:
                return "server merge mode cannot express this job";
            case errc::message_too_large:
                return "the message alone exceeds the request byte cap";
            case errc::recipient_line_break:
                return "a recipient address or name holds a line break";
            case errc::bad_row:
                return "the row renders a message the API refuses";
            case errc::malformed_response:
                return "malformed response";
            case errc::unknown_code:
                return "unknown API code";
        }
        return "unknown salvo.injection error";
    }
};

}  // namespace

const boost::system::error_category& injection_category() noexcept {
    static const category instance;
    return instance;
}

void throw_exception_from_error(const error_info& e, const boost::source_location&) {
    throw std::runtime_error(e.message);
}

}  // namespace salvo::injection
