// SIGINT/SIGTERM handling for the subcommands that run until stopped.
#include "signals.hpp"
#include "common.hpp"  // exit_stopped

#include <signal.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>

namespace salvo::cli {

namespace {
sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}
}  // namespace

signal_watch::signal_watch() {
    const sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    thread_ = std::thread([this, set] {
        int seen = 0;
        while (!done_.load()) {
            timespec wait{0, 100'000'000};
            const int sig = sigtimedwait(&set, nullptr, &wait);
            if (sig <= 0) continue;
            if (++seen > 1) {
                std::fputs("\nsalvo: second signal, stopping now (resumable)\n", stderr);
                std::_Exit(exit_stopped);
            }
            const std::lock_guard lock(mutex_);
            if (handler_)
                handler_(sig);
            else
                pending_ = sig;
        }
    });
}

void signal_watch::on_signal(std::function<void(int)> handler) {
    const std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
    if (pending_ != 0 && handler_) handler_(pending_);
    pending_ = 0;
}

signal_watch::~signal_watch() {
    done_.store(true);
    if (thread_.joinable()) thread_.join();
}

int wait_for_signal() {
    const sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    return sig;
}

}  // namespace salvo::cli
