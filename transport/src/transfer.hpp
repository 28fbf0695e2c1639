#pragma once
// One request inside the client: its body, its curl handle while an attempt
// runs, and what the attempts have learnt. Owned by the client's network
// thread from admission to completion.

#include "curl_asio.hpp"
#include "salvo/transport/client.hpp"

#include <curl/curl.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <string>

namespace salvo::transport::detail {

struct transfer final : open_guard {
    transfer(boost::asio::io_context& io, request r, completion c)
        : req(std::move(r)), done(std::move(c)), retry_timer(io) {}
    ~transfer() {
        if (owns_header_list) curl_slist_free_all(header_list);
    }

    /// A new connection within one attempt is fine until curl has issued the
    /// request; after that it could only be curl's silent retry.
    [[nodiscard]] bool may_open_socket() const noexcept override {
        if (issued) refused_reconnect = true;
        return !issued;
    }
    transfer(const transfer&) = delete;
    transfer& operator=(const transfer&) = delete;

    /// Starts a new attempt: the answer of the previous attempt is dropped.
    /// Never called mid-transfer.
    void reset_attempt() noexcept {
        issued = false;
        refused_reconnect = false;
        answer.body.clear();
        answer.retry_after.clear();
        answer.content_type.clear();
        error_text[0] = '\0';
    }

    /// Whether the whole body may have reached the server on this attempt:
    /// curl counted it uploaded, or curl wanted to issue the request a second
    /// time (its retry resets the counter, so the first issue may have sent
    /// it all).
    [[nodiscard]] bool whole_body_sent(curl_off_t uploaded) const noexcept {
        if (!issued) return false;
        if (req.body.empty() || refused_reconnect) return true;
        return uploaded >= 0 && static_cast<std::size_t>(uploaded) >= req.body.size();
    }

    request req;
    completion done;
    outcome answer;                          // accumulates the response of the current attempt
    CURL* easy = nullptr;                    // set while an attempt is in the multi
    curl_slist* header_list = nullptr;       // request headers + "Expect:", built once
    bool owns_header_list = false;           // else the client's shared list
    bool issued = false;                     // curl issued the request on this attempt
    mutable bool refused_reconnect = false;  // may_open_socket said no this attempt
    bool waiting_retry = false;              // retry_timer is armed
    unsigned attempts = 0;
    unsigned outage_attempts = 0;  // attempts that failed while the circuit was open
    bool probe = false;            // this attempt is the open circuit's probe
    std::uint64_t serial = 0;      // tells a reused address from this transfer
    clock::time_point admitted{};
    clock::time_point first_attempt{};
    std::chrono::steady_clock::time_point attempt_start{};  // latency, real time
    std::chrono::nanoseconds waited{0};
    boost::asio::steady_timer retry_timer;
    std::array<char, CURL_ERROR_SIZE> error_text{};
};

struct header_list_deleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using header_list_ptr = std::unique_ptr<curl_slist, header_list_deleter>;

/// curl's list of `lines` plus an empty `Expect:`. Null when a line holds CR
/// or LF or memory runs out.
[[nodiscard]] header_list_ptr build_header_list(const std::vector<std::string>& lines);

/// Gives the transfer its header list, once: its own lines when it has any,
/// else `shared` (the client's, borrowed). False when a line holds CR or LF
/// or memory runs out.
[[nodiscard]] bool build_headers(transfer& t, curl_slist* shared);

/// Sets the options that are the same for every request on a new easy
/// handle: callbacks, timeouts, TLS, proxy, HTTP version, User-Agent.
void configure_handle(CURL* e, const client_options& options, const std::string& user_agent);

/// Sets what belongs to one attempt on a handle that configure_handle()
/// prepared: the URL, the body through the read callback with a seek
/// callback that refuses rewinds, and the transfer as every callback's data.
void configure_attempt(CURL* e, transfer& t, const client_options& options);

}  // namespace salvo::transport::detail
