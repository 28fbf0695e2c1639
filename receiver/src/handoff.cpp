#include "handoff.hpp"

#include <salvo/transport/call.hpp>
#include <salvo/transport/client.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

extern char** environ;

namespace salvo::receiver {

boost::system::error_code split_command(const std::string& line, std::vector<std::string>& argv,
                                        std::string& why) {
    wordexp_t w{};
    const int rc = wordexp(line.c_str(), &w, WRDE_NOCMD);
    if (rc == 0) {
        for (std::size_t i = 0; i < w.we_wordc; ++i) argv.emplace_back(w.we_wordv[i]);
        wordfree(&w);
        if (!argv.empty()) return {};
        why = "it is empty";
    } else {
        if (rc == WRDE_NOSPACE) wordfree(&w);
        switch (rc) {
            case WRDE_BADCHAR:
                why =
                    "it holds | & ; < > ( ) { } or a newline, which need a shell: write "
                    "--on-reply \"sh -c '...'\" to use one";
                break;
            case WRDE_CMDSUB:
                why = "command substitution ($(...) or `...`) is not run";
                break;
            case WRDE_SYNTAX:
                why = "its quotes do not match";
                break;
            default:
                why = "it cannot be split into words";
        }
    }
    return make_error_code(boost::system::errc::invalid_argument);
}

}  // namespace salvo::receiver

namespace salvo::receiver::detail {

using steady = std::chrono::steady_clock;

namespace {

int remaining_ms(steady::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Waits for `pid` to exit until `deadline`; true when it did.
bool wait_exit(pid_t pid, steady::time_point deadline) {
    // The raw system call: glibc 2.36's <sys/pidfd.h> declares pidfd_open
    // without extern "C", so C++ cannot link against it.
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd >= 0) {
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            const int ms = remaining_ms(deadline);
            const int r = poll(&p, 1, ms);
            if (r < 0 && errno == EINTR) continue;
            close(fd);
            return r > 0;
        }
    }
    // No pidfd (a kernel before 5.3): poll the child's state.
    for (;;) {
        siginfo_t info{};
        if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == pid)
            return true;
        if (remaining_ms(deadline) == 0) return false;
        ::usleep(5000);
    }
}

}  // namespace

bool run_with_input(const std::vector<std::string>& argv, const std::string& input,
                    std::chrono::milliseconds timeout, std::string& why) {
    // A socket pair rather than a pipe: send(MSG_NOSIGNAL) to a command that
    // closed its input is an error, not a SIGPIPE for salvo listen.
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        why = std::string("socketpair: ") + std::strerror(errno);
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        why = "cannot start " + argv[0] + ": " + std::strerror(rc);
        return false;
    }
    const auto deadline = steady::now() + timeout;
    bool timed_out = false;
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    std::size_t off = 0;
    while (off < input.size()) {
        pollfd p{sv[0], POLLOUT, 0};
        const int ms = remaining_ms(deadline);
        if (ms == 0) {
            timed_out = true;
            break;
        }
        const int r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
            timed_out = true;
            break;
        }
        const ssize_t n = send(sv[0], input.data() + off, input.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            break;  // the command closed its input: its exit status tells
        }
        off += static_cast<std::size_t>(n);
    }
    close(sv[0]);
    if (!timed_out) timed_out = !wait_exit(pid, deadline);
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        why = argv[0] + " did not finish within " + std::to_string(timeout.count()) + " ms; killed";
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    why = WIFEXITED(status) ? argv[0] + " exited with status " + std::to_string(WEXITSTATUS(status))
                            : argv[0] + " was killed by signal " + std::to_string(WTERMSIG(status));
    return false;
}

std::unique_ptr<handoff> handoff::make(const options& o, metrics& m, std::string& why) {
    if (o.on_reply.empty() && o.forward_url.empty()) return nullptr;
    std::unique_ptr<handoff> h(new handoff(o, m));
    if (!o.on_reply.empty())
        if (split_command(o.on_reply, h->argv_, why)) {
            why = "--on-reply: " + why;
            return nullptr;
        }
    if (!o.forward_url.empty()) {
        transport::client_options co;
        co.max_in_flight = o.reply_concurrency == 0 ? 1 : o.reply_concurrency;
        co.headers = {"Content-Type: application/json"};
        co.retry.max_total = o.reply_retry_total;
        h->http_ = std::make_unique<transport::client>(std::move(co));
    }
    const std::size_t n = o.reply_concurrency == 0 ? 1 : o.reply_concurrency;
    for (std::size_t i = 0; i < n; ++i) h->threads_.emplace_back([p = h.get()] { p->run(); });
    return h;
}

handoff::handoff(const options& o, metrics& m) : o_(o), m_(m) {}

handoff::~handoff() {
    stop();
}

void handoff::add(std::string json) {
    {
        const std::lock_guard lock(mutex_);
        if (stopping_ || queue_.size() >= o_.reply_queue) {
            bump(m_.handoff_dropped);
            return;
        }
        queue_.push_back(std::move(json));
    }
    wake_.notify_one();
}

void handoff::stop() {
    {
        const std::lock_guard lock(mutex_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
        bump(m_.handoff_dropped, queue_.size());
        queue_.clear();
    }
    wake_.notify_all();
    // A forward waiting on a retry ends now, as cancelled.
    if (http_) http_->shutdown(std::chrono::milliseconds(1000));
    for (auto& t : threads_) t.join();
    threads_.clear();
}

void handoff::run() {
    for (;;) {
        std::string json;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            json = std::move(queue_.front());
            queue_.pop_front();
        }
        deliver(json);
    }
}

void handoff::deliver(const std::string& json) {
    if (!argv_.empty()) {
        auto backoff = o_.reply_backoff;
        for (unsigned attempt = 1;; ++attempt) {
            std::string why;
            if (run_with_input(argv_, json, o_.reply_timeout, why)) {
                bump(m_.command_ok);
                break;
            }
            std::unique_lock lock(mutex_);
            if (attempt >= o_.reply_attempts || stopping_) {
                bump(m_.command_failed);
                m_.last_handoff_error(why);
                break;
            }
            bump(m_.command_retried);
            wake_.wait_for(lock, backoff, [this] { return stopping_; });
            backoff *= 2;
        }
    }
    if (http_) {
        transport::request r;
        r.url = o_.forward_url;
        r.body = json;
        const auto out = transport::call(*http_, std::move(r));
        if (out.attempts > 1) bump(m_.forward_retried, out.attempts - 1);
        if (out.result == transport::disposition::success) {
            bump(m_.forward_ok);
        } else {
            bump(m_.forward_failed);
            m_.last_handoff_error("--forward-url: " +
                                  (out.message.empty()
                                       ? std::string(transport::to_string(out.result))
                                       : out.message));
        }
    }
}

}  // namespace salvo::receiver::detail
