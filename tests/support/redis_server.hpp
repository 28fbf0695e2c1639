#pragma once
/// A real `redis-server` for tests (Debian package redis-server): on a unix
/// socket in a directory the test owns, no TCP port, no persistence. start()
/// polls PING until it answers (bounded); stop() ends it (SIGTERM, then
/// SIGKILL); start_again() brings it back on the same socket, for outage
/// tests. Throws std::runtime_error, saying to run `./setup.sh deps`, when
/// redis-server is not installed: a test that needs it fails, never skips.
/// Not thread-safe. The destructor stops a running server.

#include "support/child_process.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

struct redisReply;
struct redisContext;

namespace salvo::test {

class redis_server {
  public:
    /// `password` empty: no AUTH; otherwise requirepass.
    [[nodiscard]] static redis_server start(const std::filesystem::path& dir,
                                            std::string password = {});

    redis_server(redis_server&&) noexcept = default;
    redis_server& operator=(redis_server&&) noexcept = default;
    ~redis_server();

    [[nodiscard]] const std::filesystem::path& socket() const noexcept { return socket_; }
    /// `unix:///…/redis.sock?db=0`, for rate.shared.redis.
    [[nodiscard]] std::string url() const { return "unix://" + socket_.string() + "?db=0"; }

    /// SIGTERM and wait (SIGKILL after 5 s). Idempotent.
    void stop();
    /// Starts it again on the same socket (after stop()), polling until ready.
    void start_again();
    [[nodiscard]] bool running() const noexcept { return child_.running(); }

  private:
    redis_server() = default;
    void launch();
    child_process child_{};
    std::filesystem::path dir_, socket_;
    std::string password_;
    int generation_ = 0;
};

/// A synchronous hiredis connection for assertions (GET, EVAL, …).
/// Throws std::runtime_error when it cannot connect or a command fails at the
/// connection level; an error *reply* is returned as a reply.
class redis_client {
  public:
    struct reply_free {
        void operator()(redisReply* r) const noexcept;
    };
    using reply_ptr = std::unique_ptr<redisReply, reply_free>;

    explicit redis_client(const std::filesystem::path& socket, const std::string& password = {});
    ~redis_client();
    redis_client(const redis_client&) = delete;
    redis_client& operator=(const redis_client&) = delete;

    [[nodiscard]] reply_ptr run(const std::vector<std::string>& args);
    /// The reply as text: a string/status/error's text, an integer's digits,
    /// "(nil)", or an array as "[a, b, c]".
    [[nodiscard]] std::string text(const std::vector<std::string>& args);

  private:
    redisContext* c_ = nullptr;
};

}  // namespace salvo::test
