#pragma once
/// Readers for what `salvo send` and `salvo emulate` leave on disk, parsed
/// with simdjson: the results NDJSON (one line per decided row), the
/// `--report FILE` JSON and the emulator's `--record` NDJSON (one line per
/// delivered email). Every reader throws std::runtime_error naming the file
/// and line on anything it cannot read, so a malformed file fails the test.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace salvo::test {

/// One line of the results file.
struct result_line {
    std::uint64_t row = 0;
    std::uint64_t line = 0;
    std::string email;
    std::string status;  ///< accepted, rejected, failed, invalid, duplicate, suppressed, unknown
    std::string code;
    std::string error;
    std::string message_id;
    std::uint64_t attempts = 0;
    bool ambiguous = false;
};

/// Every line of a results file; an absent file is empty.
[[nodiscard]] std::vector<result_line> read_results(const std::filesystem::path& p);

/// The `--report FILE` summary.
struct send_report {
    std::string status;
    std::string stop_detail;
    std::uint64_t rows_read = 0;
    std::map<std::string, std::uint64_t> fates;  ///< every fate name, 0 included
    std::uint64_t pending = 0;
    std::uint64_t ambiguous = 0;
    std::uint64_t requests = 0;
    std::uint64_t retries = 0;

    [[nodiscard]] std::uint64_t count(const std::string& fate) const {
        const auto it = fates.find(fate);
        return it == fates.end() ? 0 : it->second;
    }
};

/// The fate names, in the report's order.
[[nodiscard]] const std::vector<std::string>& fate_names();

[[nodiscard]] send_report read_report(const std::filesystem::path& p);

/// One email the emulator recorded (the fields tests match on).
struct recorded_email {
    std::uint64_t request = 0;
    std::string to;
    std::string subject;
    std::string message_id;
};

/// Every line of a record file; an absent file is empty.
[[nodiscard]] std::vector<recorded_email> read_record(const std::filesystem::path& p);

/// Counts the complete lines of a growing file, reading only what was
/// appended since the last call.
class line_counter {
  public:
    explicit line_counter(std::filesystem::path p) : path_(std::move(p)) {}
    /// Lines now (the file may not exist yet: 0).
    std::uint64_t update();

  private:
    std::filesystem::path path_;
    std::uint64_t offset_ = 0;
    std::uint64_t lines_ = 0;
};

}  // namespace salvo::test
