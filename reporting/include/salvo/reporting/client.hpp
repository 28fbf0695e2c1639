#pragma once
/// The legacy Reporting API client: `GET {endpoint}/{method}?serverId=…&
/// type=JSON&count=500&index=…` with filters, every page, over
/// salvo::transport. Basic auth: the control-panel user name and the
/// Reporting API key.

#include <salvo/reporting/reader.hpp>
#include <salvo/transport/client.hpp>

#include <memory>
#include <string>
#include <vector>

namespace salvo::reporting {

inline constexpr std::string_view default_endpoint = "https://api.socketlabs.com/v1";
inline constexpr std::uint64_t max_count = 500;

struct config {
    std::string endpoint{default_endpoint};
    std::string server_id;
    std::string user;
    std::string api_key;  ///< the secret; never printed
};

/// Filters; empty ones are not sent. Dates are "yyyy-mm-dd hh:mm:ss".
struct filter {
    std::string mailing_id, message_id, start_date, end_date;
};

struct failure {
    long http_status = 0;
    std::string message;  ///< plain words; never holds the key
};

class client {
  public:
    client(config cfg, transport::client_options options);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Every row of `method` ("messagesProcessed", "messagesFailed", …)
    /// matching `f`, paged by `index` with `count` = 500.
    [[nodiscard]] boost::system::result<std::vector<report_row>, failure> fetch(
        std::string_view method, const filter& f);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace salvo::reporting

namespace boost::system {
[[noreturn]] inline void throw_exception_from_error(const salvo::reporting::failure& e,
                                                    const boost::source_location&) {
    throw std::runtime_error(e.message);
}
}  // namespace boost::system
