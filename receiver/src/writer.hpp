#pragma once
// The single writer: sessions hand it the events of one post with a
// completion handler; its thread takes everything queued (up to a batch
// limit), writes it in one transaction, and only then completes each
// handler, on the handler's own executor, with the store's error or none.

#include "metrics.hpp"

#include <salvo/store/store.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace salvo::receiver::detail {

/// What one post asks to store: its events (with the source their
/// suppressions get) or one inbound message.
struct work {
    std::vector<platform::event> events;
    std::string_view source = "event";  ///< a literal
    std::unique_ptr<store::inbound_record> inbound;
    [[nodiscard]] std::size_t size() const noexcept { return events.size() + (inbound ? 1 : 0); }
};

class writer {
  public:
    using handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

    writer(std::unique_ptr<store::event_store> store, std::size_t max_batch, metrics& m);
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    /// Queues `events`; `done` is completed after their commit (or its
    /// failure). After stop(), completes at once with operation_aborted.
    void submit(work w, boost::asio::any_io_executor ex, handler done);

    /// Commits what is queued, completes it, and joins the thread. Idempotent.
    void stop();

    /// Awaitable form of submit() for a session coroutine.
    template <class Token>
    auto async_commit(work w, boost::asio::any_io_executor ex, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            [this](auto h, work wk, boost::asio::any_io_executor e) {
                submit(std::move(wk), std::move(e), handler(std::move(h)));
            },
            token, std::move(w), std::move(ex));
    }

  private:
    struct job {
        work w;
        boost::asio::any_io_executor ex;
        handler done;
    };
    void run();

    std::unique_ptr<store::event_store> store_;
    std::size_t max_batch_;
    metrics& m_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<job> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace salvo::receiver::detail
