#pragma once
/// A campaign on disk for tests that run the real `salvo send`: a temp dir
/// (removed by the destructor) holding recipients.csv (row N is
/// userN@example.com, so the emulator's record maps back to rows),
/// body.html and job.json, and a way to run `salvo send` on it with the API
/// key in the environment (SALVO_TEST_KEY), never on the command line.

#include "support/child_process.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::test {

class salvo_campaign {
  public:
    /// Writes a campaign of `rows` rows. `job_extra` is inserted as more
    /// top-level members of job.json (e.g. R"("merge": "server")").
    salvo_campaign(std::filesystem::path salvo, std::uint64_t rows,
                   const std::string& job_extra = {});
    ~salvo_campaign();
    salvo_campaign(const salvo_campaign&) = delete;
    salvo_campaign& operator=(const salvo_campaign&) = delete;

    [[nodiscard]] const std::filesystem::path& salvo() const noexcept { return salvo_; }
    [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }
    [[nodiscard]] std::uint64_t rows() const noexcept { return rows_; }
    [[nodiscard]] std::filesystem::path job() const { return dir_ / "job.json"; }
    [[nodiscard]] std::filesystem::path results() const { return dir_ / "results.ndjson"; }
    [[nodiscard]] std::filesystem::path journal() const { return dir_ / "campaign.journal"; }

    /// The address of row `row` (1-based), and back (nullopt: not a row's).
    [[nodiscard]] static std::string email_of(std::uint64_t row);
    [[nodiscard]] std::optional<std::uint64_t> row_of(std::string_view email) const;

    /// Starts `salvo send job.json ARGS…` with SALVO_TEST_KEY=`key`; stdout
    /// and stderr go to dir/<tag>.out and dir/<tag>.err.
    [[nodiscard]] child_process start_send(const std::vector<std::string>& args,
                                           const std::string& tag,
                                           const std::string& key = default_key) const;
    /// start_send, then waits up to `timeout` (a hung run is killed and
    /// reported as signal 9 with `timed_out` set).
    struct finished_run {
        exit_status status;
        bool timed_out = false;
        std::string err;  ///< its stderr, for assertion messages
    };
    [[nodiscard]] finished_run send(const std::vector<std::string>& args, const std::string& tag,
                                    std::chrono::milliseconds timeout = std::chrono::minutes(5),
                                    const std::string& key = default_key) const;

    static constexpr const char* default_key = "reliability-test-key";

  private:
    std::filesystem::path salvo_;
    std::filesystem::path dir_;
    std::uint64_t rows_;
};

}  // namespace salvo::test
