#pragma once
/// Debian's nginx as a real HTTPS (and HTTP/2) server on 127.0.0.1 for the
/// transport's and the CLI's tests: every POST gets one fixed answer (by
/// default the Injection API's canonical success body), with a self-signed
/// certificate the test trusts through its CA file.
///
/// The listening socket is bound by the test (127.0.0.1, port 0) and handed to
/// nginx through its `NGINX` environment variable (the binary-upgrade path),
/// so there is no race for a free port. Readiness is nginx's own "start
/// worker process" line in its error log. The destructor stops nginx
/// (SIGQUIT, then SIGKILL). Not thread-safe.

#include "support/child_process.hpp"
#include "support/http_test_server.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace salvo::test {

struct nginx_options {
    bool http2 = true;  ///< `listen ... ssl http2`; false: HTTP/1.1 over TLS only.
    /// Requests one connection carries before nginx closes it; for HTTP/2
    /// nginx then sends GOAWAY (last-stream-id: the last stream it took) and
    /// ignores the streams the client opened after it.
    unsigned keepalive_requests = 1000000;
    unsigned workers = 1;
    int status = 200;
    /// The answer's body; empty: the canonical success body.
    std::string body;
    /// Log each request's body too (JSON-escaped, read whole in memory up
    /// to 1 MiB): which recipients the server was sent, for exact counts.
    bool log_bodies = false;
};

/// One access-log line: what nginx saw of one request.
struct nginx_request {
    int status = 0;
    std::string protocol;  ///< "HTTP/2.0" or "HTTP/1.1"
    std::uint64_t content_length = 0;
    std::uint64_t connection = 0;  ///< nginx's connection serial number
    std::string body;              ///< with log_bodies: the body, JSON-escaped
};

class nginx_server {
  public:
    /// Writes the configuration and the certificate into `dir` (which must
    /// exist and outlive the server) and starts nginx. Throws
    /// std::runtime_error when nginx is missing (saying to run
    /// `./setup.sh deps`), exits, or does not start a worker within
    /// `startup`; the message quotes its error log.
    [[nodiscard]] static nginx_server start(
        const std::filesystem::path& dir, const nginx_options& options = {},
        std::chrono::milliseconds startup = std::chrono::seconds(20));

    nginx_server(nginx_server&&) noexcept = default;
    nginx_server& operator=(nginx_server&&) noexcept = default;
    ~nginx_server();

    /// https://127.0.0.1:PORT + path.
    [[nodiscard]] std::string url(const std::string& path = "/api/v1/email") const;
    /// The PEM file that verifies the server's certificate (tls.ca_file).
    [[nodiscard]] const std::filesystem::path& ca_file() const noexcept { return ca_file_; }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

    /// The requests nginx has logged so far. The access log is unbuffered,
    /// but nginx writes a request's line after it sent the answer: a client
    /// can see the answer first (use wait_for_requests).
    [[nodiscard]] std::vector<nginx_request> requests() const;
    /// requests(), once at least `n` are logged or `timeout` has passed
    /// (polls every 2 ms).
    [[nodiscard]] std::vector<nginx_request> wait_for_requests(
        std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

    /// nginx's error log (notice level), for assertion messages.
    [[nodiscard]] std::string error_log() const;

    /// SIGQUIT (graceful: finishes what it took, HTTP/2 connections get
    /// GOAWAY) and waits. Idempotent.
    void stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  private:
    nginx_server() = default;
    child_process child_{};
    std::filesystem::path dir_, ca_file_, error_log_, access_log_;
    std::uint16_t port_ = 0;
};

}  // namespace salvo::test
