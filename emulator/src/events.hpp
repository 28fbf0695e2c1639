#pragma once
// The emulator's webhook posters: one queue of request bodies posted to an
// http:// URL after a Validation handshake, one per POST, each retried with
// backoff until it is answered 200, from `connections` threads each with its
// own keep-alive connection. The Event Webhook (options::events) and the
// Inbound API (options::inbound) each have one; make_events() and
// make_inbound() turn accepted emails into their bodies.

#include <salvo/emulator/inbound.hpp>
#include <salvo/emulator/options.hpp>
#include <salvo/emulator/record.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

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

/// Where and how a poster posts.
struct post_target {
    std::string url;              ///< http://HOST:PORT/PATH, or several separated by commas
    std::string flag;             ///< the option naming the URL, for errors: "--events-url"
    std::string handshake;        ///< the Validation post's body
    std::string handshake_type;   ///< its Content-Type
    std::string content_type;     ///< the posts' Content-Type
    std::string validation_key;   ///< expected in the handshake's answer; empty: any body
    std::size_t connections = 1;  ///< posts in flight at once
    double per_second = 0;        ///< posts per second; 0: as fast as answered
};

/// A batch of bodies to post and what they stand for (a name → count map
/// added to poster::states()).
struct post_batch {
    std::vector<std::string> bodies;
    std::map<std::string, std::uint64_t> states;
    /// make_events(): the opens and clicks it made (for the Reporting API's
    /// messagesOpenClick): the email's position, TrackingType (0 click,
    /// 1 open) and Url.
    struct tracking {
        std::size_t email = 0;
        int type = 0;
        std::string url;
    };
    std::vector<tracking> opens_clicks;
};

class poster {
  public:
    /// One receiver URL, http://HOST:PORT/TARGET.
    struct url_parts {
        std::string host, port, target;
    };

    explicit poster(post_target t);
    ~poster();
    poster(const poster&) = delete;
    poster& operator=(const poster&) = delete;

    /// Queues these posts (any thread).
    void add(post_batch batch);
    /// Stops posting (what is not yet acknowledged is abandoned) and joins.
    void stop();

    std::uint64_t generated() const noexcept { return generated_.load(); }
    std::uint64_t posted() const noexcept { return posted_.load(); }
    std::uint64_t acknowledged() const noexcept { return acked_.load(); }
    std::map<std::string, std::uint64_t> states() const;
    std::string error() const;

  private:
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

    post_target t_;
    std::vector<url_parts> urls_;  // t_.url split at commas; empty: invalid
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::string> queue_;
    bool stopping_ = false;
    std::string error_;
    std::map<std::string, std::uint64_t> states_;
    std::atomic<std::uint64_t> generated_{0}, posted_{0}, acked_{0};
    std::thread thread_;             // the handshake, then the first poster
    std::vector<std::thread> more_;  // the other posters
};

/// The Event Webhook's target and posts for these accepted emails (states:
/// the delivery state each email's events add up to).
[[nodiscard]] post_target events_target(const event_options& o);
[[nodiscard]] post_batch make_events(const event_options& o,
                                     const std::vector<recorded_email>& emails);

/// The Inbound API's target and posts (states: inbound_kind names); sets
/// each email's `inbound` to the kind posted for it.
[[nodiscard]] post_target inbound_target(const inbound_options& o);
[[nodiscard]] post_batch make_inbound(const inbound_options& o,
                                      std::vector<recorded_email>& emails);

}  // namespace salvo::emulator::detail
