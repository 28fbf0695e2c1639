#pragma once
// The emulator's Event Webhook poster (options::events): turns accepted
// emails into events and posts them, one per POST, retrying each until 200,
// from event_options::connections threads each with its own connection.

#include <salvo/emulator/options.hpp>
#include <salvo/emulator/record.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace salvo::emulator::detail {

class event_poster {
  public:
    /// One receiver URL, http://HOST:PORT/TARGET.
    struct url_parts {
        std::string host, port, target;
    };

    explicit event_poster(event_options o);
    ~event_poster();
    event_poster(const event_poster&) = delete;
    event_poster& operator=(const event_poster&) = delete;

    /// Queues the events of these accepted emails (any thread).
    void add(const std::vector<recorded_email>& emails);
    /// Stops posting (what is not yet acknowledged is abandoned) and joins.
    void stop();

    std::uint64_t generated() const noexcept { return generated_.load(); }
    std::uint64_t posted() const noexcept { return posted_.load(); }
    std::uint64_t acknowledged() const noexcept { return acked_.load(); }
    std::map<std::string, std::uint64_t> states() const;
    std::string error() const;

  private:
    struct pending {
        std::string body;
        std::size_t events = 0;
    };
    // One poster's keep-alive connection.
    // One poster's keep-alive connections, one per URL, and the URL the
    // next post goes to.
    struct connection {
        boost::asio::io_context ioc;
        std::vector<std::optional<boost::beast::tcp_stream>> streams;
        std::size_t next = 0;
    };
    void run();
    void post_loop(connection& c);
    // Posts until answered 200: to URL `only`, or to each URL in turn.
    bool post_until_ok(connection& c, const std::string& body, bool handshake,
                       std::optional<std::size_t> only = std::nullopt);

    event_options o_;
    std::vector<url_parts> urls_;  // o_.url split at commas; empty: invalid
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<pending> queue_;
    bool stopping_ = false;
    std::string error_;
    std::map<std::string, std::uint64_t> states_;
    std::uint64_t emails_ = 0;
    std::atomic<std::uint64_t> generated_{0}, posted_{0}, acked_{0};
    std::thread thread_;             // the handshake, then the first poster
    std::vector<std::thread> more_;  // the other posters
};

}  // namespace salvo::emulator::detail
