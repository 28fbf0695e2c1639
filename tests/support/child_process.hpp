#pragma once
/// A child process for tests that drive real binaries: started with
/// posix_spawn, stdin from /dev/null, stdout and stderr to files, extra
/// environment variables on top of the test's own; signalled and waited for
/// with a timeout. The destructor kills (SIGKILL) and reaps a child still
/// running, so a failing test never leaves one behind. Not thread-safe: one
/// owner; moving it moves the duty to reap.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace salvo::test {

/// How a child ended: its exit code, or the signal that killed it.
struct exit_status {
    bool exited = false;  ///< true: `code` holds the exit code
    int code = 0;
    int signal = 0;  ///< the terminating signal when !exited

    [[nodiscard]] bool exited_with(int c) const noexcept { return exited && code == c; }
    [[nodiscard]] bool killed_by(int s) const noexcept { return !exited && signal == s; }
};

/// "exit 3" or "signal 9", for assertion messages.
[[nodiscard]] std::string describe(const exit_status& s);

struct spawn_options {
    std::vector<std::string> argv;  ///< argv[0] is the program's path
    /// "NAME=VALUE" entries set in the child (added, or replacing the test's).
    std::vector<std::string> env;
    std::filesystem::path stdout_file;  ///< created/truncated; empty: /dev/null
    std::filesystem::path stderr_file;  ///< created/truncated; empty: /dev/null
};

class child_process {
  public:
    /// Starts the child; throws std::runtime_error (with errno's text) when
    /// posix_spawn fails.
    [[nodiscard]] static child_process spawn(const spawn_options& options);

    /// No process (a moved-from state too).
    child_process() = default;

    child_process(child_process&& other) noexcept;
    child_process& operator=(child_process&& other) noexcept;
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process();

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    /// True until the child has been reaped by a wait.
    [[nodiscard]] bool running() const noexcept { return pid_ > 0 && !status_; }

    /// Sends `sig`; false when the child was already reaped.
    bool signal(int sig) noexcept;

    /// Reaps the child if it has ended (never blocks).
    std::optional<exit_status> try_wait();
    /// Waits up to `timeout` for the child to end.
    std::optional<exit_status> wait_for(std::chrono::milliseconds timeout);
    /// SIGKILL, then waits for it.
    exit_status kill_and_wait();

  private:
    pid_t pid_ = -1;
    std::optional<exit_status> status_;
};

/// Waits up to `timeout` for the first line `child` writes to `out` (a
/// server's URL) and returns it. Throws std::runtime_error, quoting `err`,
/// when the child exits first or prints nothing in time. Polls every 5 ms.
[[nodiscard]] std::string wait_for_first_line(child_process& child,
                                              const std::filesystem::path& out,
                                              const std::filesystem::path& err,
                                              const std::string& what,
                                              std::chrono::milliseconds timeout);

}  // namespace salvo::test
