#pragma once
/// `salvo emulate` as a separate process on 127.0.0.1 (port chosen by the
/// kernel), for tests that drive the real binaries: started with the given
/// options plus `--listen 127.0.0.1:0 --record FILE`; its URL is the first
/// line it prints. stop() sends SIGINT and reads the request and email
/// counts it prints when it stops. Not thread-safe. The destructor stops a
/// running emulator (SIGINT, then SIGKILL after 10 s).

#include "support/child_process.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace salvo::test {

class emulator_process {
  public:
    struct counts {
        std::uint64_t requests = 0;  ///< POST /api/v1/email requests received
        std::uint64_t emails = 0;    ///< emails recorded
    };

    /// Starts `salvo emulate` with `args`, writing its output and record as
    /// `dir/<name>.{out,err,record.ndjson}`. Throws std::runtime_error when
    /// it exits or prints no URL within `startup`.
    [[nodiscard]] static emulator_process start(
        const std::filesystem::path& salvo, const std::filesystem::path& dir,
        const std::string& name, const std::vector<std::string>& args,
        const std::vector<std::string>& env = {},
        std::chrono::milliseconds startup = std::chrono::seconds(30));

    emulator_process(emulator_process&&) noexcept = default;
    emulator_process& operator=(emulator_process&&) noexcept = default;
    ~emulator_process();

    /// The endpoint, e.g. http://127.0.0.1:40123/api/v1/email.
    [[nodiscard]] const std::string& url() const noexcept { return url_; }
    [[nodiscard]] const std::filesystem::path& record_file() const noexcept { return record_; }
    [[nodiscard]] const std::filesystem::path& stderr_file() const noexcept { return err_; }

    /// SIGINT, wait, and the counts from its last stderr line. Throws
    /// std::runtime_error when it does not stop cleanly or the line is
    /// missing. Idempotent: later calls return the same counts.
    counts stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  private:
    emulator_process() = default;
    child_process child_{};
    std::string url_;
    std::filesystem::path record_, err_;
    bool stopped_ = false;
    counts counts_{};
};

/// The whole content of a file ("" when it does not exist).
[[nodiscard]] std::string read_file(const std::filesystem::path& p);

}  // namespace salvo::test
