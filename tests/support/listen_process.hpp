#pragma once
/// `salvo listen` as a separate process on 127.0.0.1 (port chosen by the
/// kernel) over a given database, with its keys in the environment
/// (never on its command line). Its base URL is the first line it prints.
/// The destructor stops it (SIGINT, then SIGKILL after 10 s). Not thread-safe.

#include "support/child_process.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace salvo::test {

class listen_process {
  public:
    static constexpr const char* secret = "test-secret-key";
    static constexpr const char* validation = "test-validation-key";

    /// Starts `salvo listen --listen 127.0.0.1:0 --db DB ARGS…`; output in
    /// dir/<name>.{out,err}. Throws std::runtime_error when it prints no URL.
    [[nodiscard]] static listen_process start(const std::filesystem::path& salvo,
                                              const std::filesystem::path& dir,
                                              const std::string& name,
                                              const std::filesystem::path& db,
                                              const std::vector<std::string>& args = {});

    listen_process(listen_process&&) noexcept = default;
    listen_process& operator=(listen_process&&) noexcept = default;
    ~listen_process();

    [[nodiscard]] const std::string& url() const noexcept { return url_; }
    [[nodiscard]] std::uint16_t port() const;
    [[nodiscard]] const std::filesystem::path& stderr_file() const noexcept { return err_; }
    [[nodiscard]] child_process& child() noexcept { return child_; }

    /// SIGINT and wait; the exit status.
    exit_status stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  private:
    listen_process() = default;
    child_process child_{};
    std::string url_;
    std::filesystem::path err_;
};

}  // namespace salvo::test
