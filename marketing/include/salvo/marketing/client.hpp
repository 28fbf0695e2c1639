#pragma once
/// The Marketing API client: contact lists read page by page and contacts
/// upserted in bulk, over salvo::transport (its retries, Retry-After and
/// rate limits). Basic auth: the ServerId as user, the Marketing API key as
/// password.

#include <salvo/marketing/reader.hpp>
#include <salvo/transport/client.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace salvo::marketing {

inline constexpr std::string_view default_endpoint = "https://api.socketlabs.com/marketing/v1";
inline constexpr std::size_t max_page_size = 1000;

struct config {
    std::string endpoint{default_endpoint};  ///< without a trailing slash
    std::string server_id;
    std::string api_key;  ///< the secret; never printed
    std::size_t page_size = max_page_size;
};

/// A request that did not get the answer it needed: the HTTP status (0: no
/// answer), and plain words that never hold the key.
struct failure {
    long http_status = 0;
    std::string message;
};

/// What became of one contact pushed.
enum class push_fate : std::uint8_t {
    created,             ///< 201: added to the list
    updated,             ///< 200: the address was on the list; its fields replaced
    list_not_found,      ///< 404
    over_contact_limit,  ///< 403: the account holds its maximum number of contacts
    bad_address,         ///< 400
    unauthorized,        ///< 401
    failed,              ///< anything else; `message` says what
};
[[nodiscard]] std::string_view to_string(push_fate f) noexcept;

struct push_result {
    push_fate fate = push_fate::failed;
    long http_status = 0;
    std::string message;
    unsigned attempts = 0;  ///< HTTP attempts, transport retries and re-sends included
};

/// Thread safety: one thread uses a client at a time; it owns a
/// transport::client (and its network thread).
class client {
  public:
    client(config cfg, transport::client_options options);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Every list of the account (all pages).
    [[nodiscard]] boost::system::result<std::vector<list_info>, failure> lists();

    /// Calls `each` with every page of the list's contacts, in order, until
    /// the last page or until `each` returns false.
    [[nodiscard]] boost::system::result<void, failure> for_each_page(
        std::uint64_t list_id, const std::function<bool(contact_page&)>& each);

    /// Upserts every contact (`PUT /lists/{id}/contacts`), many in flight;
    /// result i is contact i's. An upsert is keyed by address, so an attempt
    /// whose answer was lost is sent again (up to 3 rounds): it can update,
    /// never add twice.
    [[nodiscard]] std::vector<push_result> push(std::uint64_t list_id,
                                                const std::vector<contact>& contacts);

    /// `POST /contacts/unsubscribe/` for one address.
    [[nodiscard]] boost::system::result<void, failure> unsubscribe(std::string_view email);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace salvo::marketing

namespace boost::system {
[[noreturn]] inline void throw_exception_from_error(const salvo::marketing::failure& e,
                                                    const boost::source_location&) {
    throw std::runtime_error(e.message);
}
}  // namespace boost::system
