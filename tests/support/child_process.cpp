#include "support/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fstream>
#include <sstream>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace salvo::test {

std::string describe(const exit_status& s) {
    return s.exited ? "exit " + std::to_string(s.code) : "signal " + std::to_string(s.signal);
}

namespace {

exit_status from_wait_status(int w) {
    exit_status s;
    if (WIFEXITED(w)) {
        s.exited = true;
        s.code = WEXITSTATUS(w);
    } else if (WIFSIGNALED(w)) {
        s.signal = WTERMSIG(w);
    }
    return s;
}

// RAII for the spawn attribute objects.
struct spawn_setup {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};
    spawn_setup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~spawn_setup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
    spawn_setup(const spawn_setup&) = delete;
    spawn_setup& operator=(const spawn_setup&) = delete;
};

}  // namespace

child_process child_process::spawn(const spawn_options& options) {
    if (options.argv.empty()) throw std::runtime_error("child_process: empty argv");
    spawn_setup s;
    const auto redirect = [&](int fd, const std::filesystem::path& p) {
        const std::string path = p.empty() ? std::string("/dev/null") : p.string();
        posix_spawn_file_actions_addopen(&s.actions, fd, path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
    };
    posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
    redirect(1, options.stdout_file);
    redirect(2, options.stderr_file);

    // The child starts with no blocked signals and default dispositions for
    // the ones tests send, whatever the test process did.
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&s.attr, &none);
    posix_spawnattr_setsigdefault(&s.attr, &defaults);
    posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        const std::string kv = *e;
        const auto eq = kv.find('=');
        env[kv.substr(0, eq)] = kv;
    }
    for (const auto& kv : options.env) env[kv.substr(0, kv.find('='))] = kv;
    std::vector<char*> envp;
    for (auto& [name, kv] : env) envp.push_back(kv.data());
    envp.push_back(nullptr);

    std::vector<std::string> args = options.argv;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    child_process c;
    const int rc = posix_spawn(&c.pid_, argv[0], &s.actions, &s.attr, argv.data(), envp.data());
    if (rc != 0) {
        c.pid_ = -1;
        throw std::runtime_error("posix_spawn " + args[0] + ": " + std::strerror(rc));
    }
    return c;
}

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

child_process& child_process::operator=(child_process&& other) noexcept {
    if (this != &other) {
        if (running()) (void)kill_and_wait();
        pid_ = std::exchange(other.pid_, -1);
        status_ = std::exchange(other.status_, std::nullopt);
    }
    return *this;
}

child_process::~child_process() {
    if (running()) (void)kill_and_wait();
}

bool child_process::signal(int sig) noexcept {
    return running() && ::kill(pid_, sig) == 0;
}

std::optional<exit_status> child_process::try_wait() {
    if (status_ || pid_ <= 0) return status_;
    int w = 0;
    pid_t r = 0;
    do {
        r = ::waitpid(pid_, &w, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid_) status_ = from_wait_status(w);
    return status_;
}

std::optional<exit_status> child_process::wait_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::microseconds(200);
    while (!try_wait()) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(20'000));
    }
    return status_;
}

exit_status child_process::kill_and_wait() {
    if (!running()) return status_.value_or(exit_status{});
    ::kill(pid_, SIGKILL);
    int w = 0;
    pid_t r = 0;
    do {
        r = ::waitpid(pid_, &w, 0);
    } while (r < 0 && errno == EINTR);
    status_ = r == pid_ ? from_wait_status(w) : exit_status{};
    return *status_;
}

std::string wait_for_first_line(child_process& child, const std::filesystem::path& out,
                                const std::filesystem::path& err, const std::string& what,
                                std::chrono::milliseconds timeout) {
    const auto slurp = [](const std::filesystem::path& p) {
        std::ifstream in(p, std::ios::binary);
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    };
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        const std::string text = slurp(out);
        if (const auto nl = text.find('\n'); nl != std::string::npos) return text.substr(0, nl);
        if (const auto st = child.try_wait())
            throw std::runtime_error(what + " exited: " + describe(*st) + ": " + slurp(err));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    throw std::runtime_error(what + " printed no URL: " + slurp(err));
}

}  // namespace salvo::test
