// SIGINT/SIGTERM handling for the subcommands that run until stopped.
#include "signals.hpp"
#include "common.hpp"  // exit_stopped

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <cstdint>
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

// The thread waits on a signalfd and on an eventfd the destructor writes to,
// so that the process exits as soon as its work is done (a wait with a
// timeout kept every `salvo send` up to 100 ms longer: 50 on average).
signal_watch::signal_watch() {
    const sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signals_ = ::signalfd(-1, &set, SFD_CLOEXEC);
    wake_ = ::eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this, set] {
        int seen = 0;
        while (!done_.load()) {
            int sig = 0;
            if (signals_ >= 0 && wake_ >= 0) {
                pollfd fds[2] = {{signals_, POLLIN, 0}, {wake_, POLLIN, 0}};
                if (::poll(fds, 2, -1) <= 0 || (fds[1].revents & POLLIN) != 0) continue;
                signalfd_siginfo info{};
                if (::read(signals_, &info, sizeof info) != static_cast<ssize_t>(sizeof info))
                    continue;
                sig = static_cast<int>(info.ssi_signo);
            } else {
                // No descriptors to be had: look for the end every 100 ms.
                timespec wait{0, 100'000'000};
                sig = sigtimedwait(&set, nullptr, &wait);
                if (sig <= 0) continue;
            }
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
    if (wake_ >= 0) {
        const std::uint64_t one = 1;
        (void)!::write(wake_, &one, sizeof one);
    }
    if (thread_.joinable()) thread_.join();
    if (signals_ >= 0) ::close(signals_);
    if (wake_ >= 0) ::close(wake_);
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
