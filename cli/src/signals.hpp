#pragma once
// SIGINT and SIGTERM: a clean stop on the first, an exit on the second.

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

namespace salvo::cli {

/// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread
/// it starts afterwards: construct it before anything starts threads) and
/// calls the handler given to on_signal() from a thread of its own. A signal
/// that comes before a handler is set is kept and handed to it when set. A
/// second signal ends the process at once (exit 3): the journal makes that
/// resumable too.
class signal_watch {
  public:
    signal_watch();
    ~signal_watch();
    signal_watch(const signal_watch&) = delete;
    signal_watch& operator=(const signal_watch&) = delete;

    void on_signal(std::function<void(int)> handler);

  private:
    std::atomic<bool> done_{false};
    int signals_ = -1;  // signalfd of SIGINT and SIGTERM
    int wake_ = -1;     // eventfd: the destructor's "stop waiting"
    std::mutex mutex_;
    std::function<void(int)> handler_;
    int pending_ = 0;
    std::thread thread_;
};

/// Blocks SIGINT and SIGTERM, then waits for one; returns its number.
int wait_for_signal();

}  // namespace salvo::cli
