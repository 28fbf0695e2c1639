#pragma once
/// A tiny scriptable HTTP/1.1 server for integration tests: listens on
/// 127.0.0.1 port 0 (optionally with TLS), runs on its own thread, and lets
/// each test decide per request what happens: answer, delay, close after
/// reading the body, never answer, or stall mid-body. It counts connections
/// and every complete request that arrived, and keeps their bodies.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace salvo::test {

/// What the server does with one complete request.
struct http_action {
    enum class kind {
        respond,               ///< send `status`, `headers`, `body`.
        close_without_answer,  ///< close the connection, no response at all.
        hang,                  ///< keep the connection open and never answer.
        stall_mid_body,        ///< send the head and half of `body`, then nothing.
    };
    kind what = kind::respond;
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body = R"({"ErrorCode":"Success"})";
    std::chrono::milliseconds delay{0};  ///< wait before acting.
    bool close_after = false;  ///< close the connection after answering (no Connection: close).

    [[nodiscard]] static http_action of(kind k) {
        http_action a;
        a.what = k;
        return a;
    }
};

/// One request as the server read it.
struct received_request {
    std::string method;
    std::string target;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::size_t connection = 0;  ///< 0-based accept order.
    std::chrono::steady_clock::time_point at;
    [[nodiscard]] std::string header(std::string_view name) const;  ///< "" if absent.
};

/// Called on the server thread for request number `index` (0-based, in
/// arrival order). Must be thread-safe with respect to the test's own state.
using http_script = std::function<http_action(std::size_t index, const received_request&)>;

/// A PEM certificate and key pair.
struct tls_identity {
    std::string cert_pem;
    std::string key_pem;
};

/// A fresh self-signed certificate (EC P-256, CN=localhost, SAN
/// IP:127.0.0.1 and DNS:localhost, valid for a day), made with OpenSSL.
/// Throws std::runtime_error if OpenSSL fails.
[[nodiscard]] tls_identity make_self_signed_identity();

struct http_test_server_options {
    bool close_on_accept = false;       ///< accept and close at once, reading nothing.
    bool never_read = false;            ///< accept and never read.
    const tls_identity* tls = nullptr;  ///< serve HTTPS with this identity.
    /// Non-zero: read only the request head, answer this status with
    /// `Connection: close`, then discard the body unread until the client
    /// closes (a lingering close, as a server refusing a body that is too
    /// large does). Plain HTTP only. Not counted as an arrival.
    int answer_before_body = 0;
};

/// The server. Construction binds and starts it; destruction stops it.
/// Thread safety: every const accessor may be called from any thread.
class http_test_server {
  public:
    explicit http_test_server(http_script script = {}, http_test_server_options options = {});
    ~http_test_server();
    http_test_server(const http_test_server&) = delete;
    http_test_server& operator=(const http_test_server&) = delete;

    [[nodiscard]] unsigned short port() const noexcept;
    /// "http://127.0.0.1:<port><path>" (https with TLS).
    [[nodiscard]] std::string url(std::string_view path = "/") const;
    [[nodiscard]] std::size_t arrivals() const;            ///< complete requests read.
    [[nodiscard]] std::size_t connections() const;         ///< connections accepted.
    [[nodiscard]] std::size_t closed_connections() const;  ///< connections the server ended.
    [[nodiscard]] std::vector<received_request> received() const;
    /// TLS only: the ALPN protocols the last client offered, comma-separated
    /// ("h2,http/1.1"); the server always answers with HTTP/1.1.
    [[nodiscard]] std::string last_alpn_offer() const;
    /// Waits up to `limit` until `pred()` holds; returns pred().
    [[nodiscard]] bool wait_until(const std::function<bool()>& pred,
                                  std::chrono::milliseconds limit) const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace salvo::test
