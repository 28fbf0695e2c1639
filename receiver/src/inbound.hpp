#pragma once
// The Inbound API route (`POST /inbound`) and the one-click unsubscribe
// routes (`GET`/`POST /unsubscribe?t=…`) of `salvo listen`. A post is
// parsed on the parse pool (which bounds how many bodies are parsed at
// once), checked, classified, and answered 200 only after the writer
// committed it.

#include "metrics.hpp"
#include "writer.hpp"

#include <salvo/receiver/server.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http/status.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace salvo::receiver::detail {

class handoff;

struct reply {
    boost::beast::http::status status = boost::beast::http::status::ok;
    std::string body;
    const char* content_type = "text/plain; charset=utf-8";
};

/// Compares secrets in time that does not depend on where they differ.
inline bool same_secret(std::string_view a, std::string_view b) noexcept {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
    return diff == 0;
}

inline reply text(boost::beast::http::status status, std::string body) {
    return {status, std::move(body), "text/plain; charset=utf-8"};
}

/// What the inbound routes share with the server.
struct inbound_context {
    const options& opts;
    metrics& m;
    writer& w;
    boost::asio::thread_pool& pool;
    std::filesystem::path spool, attachments;
    handoff* replies = nullptr;  ///< human replies handed on after their commit; may be null
};

/// Creates `opts.inbound_dir`'s spool/ and attachments/ folders; false
/// (with errno's code) when they cannot be made.
[[nodiscard]] boost::system::error_code prepare_inbound_dirs(const options& opts);

/// `POST /inbound` with the body in memory (`body`) or spooled to a file
/// (`file`, removed afterwards).
boost::asio::awaitable<reply> inbound_post(inbound_context& c, std::string_view content_type,
                                           std::string body,
                                           std::optional<std::filesystem::path> file);

/// `GET /unsubscribe?t=…`: the confirmation page (never unsubscribes).
reply unsubscribe_page(const inbound_context& c, std::string_view target);
/// `POST /unsubscribe?t=…`: suppresses the token's address (idempotent).
boost::asio::awaitable<reply> unsubscribe_post(inbound_context& c, std::string_view target);

}  // namespace salvo::receiver::detail
