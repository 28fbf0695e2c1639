// A 100 000-row job in each merge mode against the emulator: every row's
// fate in the results file matches what the emulator recorded (accepted ⇔
// recorded exactly once, rendered as expected), and the report adds up.
#include <salvo/emulator/server.hpp>
#include <salvo/engine/job.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unordered_map>

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t rows = 100000;

class JobScale : public ::testing::TestWithParam<const char*> {
  protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() / ("salvo-scale-" + std::to_string(rd()));
        fs::create_directories(dir_);
        // Every 1000th address is malformed, every 997th repeats the one before.
        std::ofstream out(dir_ / "recipients.csv");
        out << "email,first_name,code\n";
        for (std::uint64_t i = 1; i <= rows; ++i) {
            if (i % 1000 == 0)
                out << "no-at-sign-" << i << ",X,c" << i << "\n";
            else if (i % 997 == 0)
                out << "user" << i - 1 << "@example.com,Dup,c" << i << "\n";
            else
                out << "user" << i << "@example.com,Name " << i << ",c&" << i << "\n";
        }
        emulator::options o;
        o.record_in_memory = true;
        o.api_key = "scale-key";
        auto s = emulator::server::start(o);
        ASSERT_TRUE(s) << s.error().message();
        emulator_ = std::move(*s);
    }
    void TearDown() override {
        emulator_.reset();
        fs::remove_all(dir_);
    }

    fs::path dir_;
    std::unique_ptr<emulator::server> emulator_;
};

TEST_P(JobScale, EveryRowsFateMatchesWhatTheEmulatorRecorded) {
    const std::string json = R"({"endpoint": ")" + emulator_->url() + R"(",
      "server_id": 7, "recipients": "recipients.csv",
      "message": {"from": {"email": "news@example.com"},
                  "subject": "Hi %%first_name|friend%%",
                  "html": "<p>%%first_name%%: %%code%%</p>", "text": "code %%code%%"},
      "merge": ")" + std::string(GetParam()) +
                             R"("})";
    auto config = parse_job(json, dir_);
    ASSERT_TRUE(config) << config.error().message;
    run_options o;
    o.api_key = "scale-key";
    auto j = job::create(std::move(*config), o);
    ASSERT_TRUE(j) << j.error().message;
    const report r = (*j)->run();
    ASSERT_EQ(r.status, job_status::finished) << r.stop_detail;
    EXPECT_EQ(r.rows_read, rows);
    EXPECT_EQ(r.pending, 0u);

    // Deliveries by address, each checked against its row's rendering.
    std::unordered_map<std::string, int> delivered;
    for (const auto& e : emulator_->recorded()) {
        ++delivered[e.to];
        const std::uint64_t i = std::stoull(e.to.substr(4));
        EXPECT_EQ(e.subject, "Hi Name " + std::to_string(i)) << e.to;
        EXPECT_EQ(e.html, "<p>Name " + std::to_string(i) + ": c&amp;" + std::to_string(i) + "</p>")
            << e.to;
        EXPECT_EQ(e.text, "code c&" + std::to_string(i)) << e.to;
    }

    std::ifstream in(dir_ / "results.ndjson");
    std::vector<bool> seen(rows + 1);
    std::array<std::uint64_t, fate_count> counts{};
    std::uint64_t lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
        const std::uint64_t row = std::stoull(line.substr(7));
        ASSERT_LE(row, rows);
        ASSERT_FALSE(seen[row]) << "two lines for row " << row;
        seen[row] = true;
        const auto at = line.find("\"status\":\"") + 10;
        const auto status = parse_fate(line.substr(at, line.find('"', at) - at));
        ASSERT_TRUE(status) << line;
        ++counts[static_cast<std::size_t>(*status)];
        const auto email_at = line.find("\"email\":\"") + 9;
        const std::string email = line.substr(email_at, line.find('"', email_at) - email_at);
        if (*status == fate::accepted) {
            EXPECT_EQ(delivered[email], 1) << "row " << row;
            EXPECT_EQ(row % 1000 != 0 && row % 997 != 0, true) << line;
        } else {
            // Invalid and duplicate rows were never sent as themselves.
            EXPECT_TRUE(*status == fate::invalid || *status == fate::duplicate) << line;
        }
    }
    EXPECT_EQ(lines, rows);
    EXPECT_EQ(counts, r.fates);
    EXPECT_EQ(r.count(fate::invalid), rows / 1000);
    EXPECT_EQ(r.count(fate::duplicate), rows / 997 - rows / (997 * 1000));
    EXPECT_EQ(r.count(fate::accepted), delivered.size());
    EXPECT_EQ(emulator_->recorded().size(), r.count(fate::accepted));
}

INSTANTIATE_TEST_SUITE_P(BothModes, JobScale, ::testing::Values("local", "server"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace salvo::engine
