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
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace salvo::transport::detail {

/// The GOAWAYs the client's HTTP/2 connections received: curl's connection
/// number -> the last-stream-id the server said it may process. Kept by the
/// client, written by the transfers' debug callbacks (network thread only).
using goaway_book = std::unordered_map<long, std::uint32_t>;

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
        refused_stream = false;
        died_retry = false;
        connection = -1;
        stream_id = 0;
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
    /// The server refused this attempt's HTTP/2 stream (RST_STREAM
    /// REFUSED_STREAM, or a GOAWAY whose last-stream-id is below it): by
    /// RFC 9113 §8.7 it did not process the request, so it is safe to send
    /// again even though the whole body went out.
    bool refused_stream = false;
    /// What curl's debug output said about this attempt (HTTP/2 only, see
    /// note_debug_line): its connection number, its stream, and whether curl
    /// wanted to send it again because the connection died.
    bool died_retry = false;
    long connection = -1;
    std::uint32_t stream_id = 0;
    goaway_book* goaways = nullptr;  // the client's; null in tests of one transfer
    bool waiting_retry = false;      // retry_timer is armed
    bool queued = false;             // in the client's queue (at most once)
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

/// Reads one line of curl 7.88's debug text (CURLINFO_TEXT) for what it
/// says about HTTP/2 streams: the connection and stream of `t`, a GOAWAY on
/// its connection (into `*t.goaways`), REFUSED_STREAM, a "connection died"
/// retry. Then sets `t.refused_stream` when the server refused the stream:
/// REFUSED_STREAM, or curl's retry of a stream above the last-stream-id of a
/// GOAWAY on its connection (RFC 9113 §6.8: never processed).
void note_debug_line(transfer& t, std::string_view line);

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
