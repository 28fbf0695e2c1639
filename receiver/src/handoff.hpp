#pragma once
// Hands human replies on (options::on_reply, options::forward_url) after
// their commit, off the I/O threads: a bounded queue and
// options::reply_concurrency worker threads. Each reply's stored JSON goes
// to the command's standard input (the command runs without a shell, with
// a deadline, retried) and/or is re-POSTed through salvo::transport (its
// retry rules). A full queue drops the reply from the hand-off (it stays in
// the database) and counts it; nothing here ever delays an answer.

#include "metrics.hpp"

#include <salvo/receiver/server.hpp>

#include <boost/system/error_code.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace salvo::transport {
class client;
}

namespace salvo::receiver::detail {

/// Runs `argv` with `input` on its standard input and its standard output
/// sent to our standard error; kills it (SIGKILL) when it has not exited
/// within `timeout`. 0 when it exited 0; otherwise `why` says what
/// happened (exit status, signal, timeout, cannot start).
[[nodiscard]] bool run_with_input(const std::vector<std::string>& argv, const std::string& input,
                                  std::chrono::milliseconds timeout, std::string& why);

class handoff {
  public:
    /// Null when neither on_reply nor forward_url is set, or (with `why`
    /// set) when on_reply cannot be split into words.
    [[nodiscard]] static std::unique_ptr<handoff> make(const options& o, metrics& m,
                                                       std::string& why);
    ~handoff();
    handoff(const handoff&) = delete;
    handoff& operator=(const handoff&) = delete;

    /// Queues one reply (any thread; never blocks).
    void add(std::string json);
    /// Finishes what is queued within the current attempts, then joins.
    void stop();

  private:
    handoff(const options& o, metrics& m);
    void run();
    void deliver(const std::string& json);

    const options& o_;
    metrics& m_;
    std::vector<std::string> argv_;
    std::unique_ptr<transport::client> http_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::string> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace salvo::receiver::detail
