// Durability before dispatch: a power cut at a seeded moment (the ledger's
// writes go through test::power_cut_io, which forgets every byte that was
// not fsynced) never leaves a request that reached the server without its
// dispatch record on disk. After recovery every row the emulator received is
// decided or in doubt, and the resumed job sends in-doubt rows again only
// with the ambiguous mark. Both merge modes; at odd seeds the disk has also
// kept a seeded share of each file's unsynced bytes (a torn write), so the
// results file may hold lines the journal lost, or half a line.
#include "support/power_cut_io.hpp"
#include "support/temp_dir.hpp"

#include <salvo/emulator/server.hpp>
#include <salvo/engine/job.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;

class Durability : public ::testing::TestWithParam<std::tuple<const char*, unsigned>> {
  protected:
    void SetUp() override {
        std::ofstream out(dir_ / "recipients.csv");
        out << "email,first_name\n";
        for (std::size_t i = 1; i <= rows_; ++i)
            out << "user" << i << "@example.com,N" << i << "\n";
        emulator::options o;
        o.record_in_memory = true;
        o.api_key = "test-key";
        auto s = emulator::server::start(o);
        ASSERT_TRUE(s) << s.error().message();
        emulator_ = std::move(*s);
    }
    void TearDown() override { emulator_.reset(); }

    job_config config() {
        // One message a request (a row in local mode, five in server mode):
        // many requests, so that a cut falls between them.
        const std::string mode = std::get<0>(GetParam());
        const std::string json = R"({"endpoint": ")" + emulator_->url() + R"(",
          "server_id": 7, "recipients": "recipients.csv",
          "message": {"from": "news@example.com", "subject": "Hi %%first_name%%",
                      "text": "Hello %%first_name%%"},
          "limits": {"messages_per_request": 1, "recipients_per_message": 5},
          "rate": {"max_in_flight": 4}, "merge": ")" +
                                 mode + R"("})";
        auto c = parse_job(json, dir_.path());
        EXPECT_TRUE(c) << (c ? "" : c.error().message);
        return c ? *c : job_config{};
    }

    std::unique_ptr<job> make_job(ledger_io* io) {
        run_options o;
        o.api_key = "test-key";
        o.chunk_bytes = 2048;  // about 75 rows a chunk: many dispatch batches
        o.ledger_files = io;
        auto j = job::create(config(), o);
        EXPECT_TRUE(j) << (j ? "" : j.error().message);
        return j ? std::move(*j) : nullptr;
    }

    // Row number from the address user<N>@example.com.
    static std::uint64_t row_of(const std::string& address) {
        return std::stoull(address.substr(4, address.find('@') - 4));
    }

    const std::size_t rows_ = 3000;
    test::temp_dir dir_{"salvo-durability"};
    std::unique_ptr<emulator::server> emulator_;
};

TEST_P(Durability, EveryRowThatReachedTheServerHasItsDispatchRecordAfterAPowerCut) {
    test::power_cut_io io;
    // Seeded moment: the power goes at the n-th fsync (opening the ledger
    // makes two), somewhere in the run. A whole run makes 60-77 in local
    // mode and 35-49 in server mode: the cut comes before the last request.
    const unsigned seed = std::get<1>(GetParam());
    std::mt19937 rng(seed);
    io.cut_at_sync(3 + static_cast<unsigned>(rng() % 20));
    {
        auto j = make_job(&io);
        ASSERT_TRUE(j);
        const report r = j->run();
        ASSERT_TRUE(io.is_cut()) << "the run ended before the power cut; status "
                                 << to_string(r.status);
        EXPECT_EQ(r.status, job_status::input_failed) << r.stop_detail;
        // The user learns which file failed (the journal's fsync, or a write
        // to either file after the cut) and what to do next.
        EXPECT_TRUE(r.stop_detail.find("campaign.journal") != std::string::npos ||
                    r.stop_detail.find("results.ndjson") != std::string::npos)
            << r.stop_detail;
        EXPECT_NE(r.stop_detail.find("run the same command"), std::string::npos) << r.stop_detail;
    }
    if (seed % 2 == 1)
        io.power_off_torn(seed);
    else
        io.power_off();

    std::map<std::uint64_t, int> arrivals;  // row -> times the server received it
    for (const auto& e : emulator_->recorded()) ++arrivals[row_of(e.to)];
    EXPECT_LT(arrivals.size(), rows_) << "the power cut came after the last request";

    auto resumed = make_job(nullptr);
    ASSERT_TRUE(resumed);
    const ledger_state& state = resumed->recovered();
    const std::set<std::uint64_t> doubt(state.in_doubt.begin(), state.in_doubt.end());
    for (const auto& [row, n] : arrivals)
        EXPECT_TRUE(state.is_decided(row) || doubt.count(row))
            << "row " << row << " reached the server but has no dispatch record on disk";

    // The resumed run completes the campaign: one line per row, and a row
    // the server may now have twice is marked ambiguous.
    const report r = resumed->run();
    ASSERT_EQ(r.status, job_status::finished) << r.stop_detail;
    EXPECT_EQ(r.count(fate::accepted), rows_);
    std::map<std::uint64_t, int> total;
    for (const auto& e : emulator_->recorded()) ++total[row_of(e.to)];
    std::ifstream in(dir_ / "results.ndjson");
    std::set<std::uint64_t> seen;
    for (std::string line; std::getline(in, line);) {
        const std::uint64_t row = std::stoull(line.substr(7));
        EXPECT_TRUE(seen.insert(row).second) << "two lines for row " << row;
        if (total[row] > 1) {
            EXPECT_NE(line.find("\"ambiguous\":true"), std::string::npos)
                << "row " << row << " was received twice without the ambiguous mark";
        }
    }
    EXPECT_EQ(seen.size(), rows_);
}

// The power goes twice: in the run, and again in the run that resumes it
// (opening the ledger included, while it rebuilds the results file). The
// third run still accounts for every row the server ever received.
TEST_P(Durability, APowerCutWhileResumingLosesNothingEither) {
    const unsigned seed = std::get<1>(GetParam());
    std::mt19937 rng(seed + 1000);
    {
        test::power_cut_io io;
        io.cut_at_sync(3 + static_cast<unsigned>(rng() % 20));
        auto j = make_job(&io);
        ASSERT_TRUE(j);
        (void)j->run();
        ASSERT_TRUE(io.is_cut());
        j.reset();
        if (rng() % 2 == 1)
            io.power_off_torn(static_cast<std::uint32_t>(rng()));
        else
            io.power_off();
    }
    {
        test::power_cut_io io;
        io.cut_at_sync(1 + static_cast<unsigned>(rng() % 25));
        run_options o;
        o.api_key = "test-key";
        o.chunk_bytes = 2048;
        o.ledger_files = &io;
        {
            auto j = job::create(config(), o);  // a cut here fails the open
            if (j) (void)(*j)->run();
        }
        if (rng() % 2 == 1)
            io.power_off_torn(static_cast<std::uint32_t>(rng()));
        else
            io.power_off();
    }
    std::map<std::uint64_t, int> arrivals;
    for (const auto& e : emulator_->recorded()) ++arrivals[row_of(e.to)];

    auto last = make_job(nullptr);
    ASSERT_TRUE(last);
    const ledger_state& state = last->recovered();
    const std::set<std::uint64_t> doubt(state.in_doubt.begin(), state.in_doubt.end());
    for (const auto& [row, n] : arrivals)
        EXPECT_TRUE(state.is_decided(row) || doubt.count(row))
            << "row " << row << " reached the server but has no dispatch record on disk";
    // The second run may have finished before its cut came.
    const report r = last->run();
    ASSERT_TRUE(r.status == job_status::finished || r.status == job_status::already_finished)
        << to_string(r.status) << ": " << r.stop_detail;
    EXPECT_EQ(r.count(fate::accepted), rows_);
    std::map<std::uint64_t, int> total;
    for (const auto& e : emulator_->recorded()) ++total[row_of(e.to)];
    std::ifstream in(dir_ / "results.ndjson");
    std::set<std::uint64_t> seen;
    for (std::string line; std::getline(in, line);) {
        const std::uint64_t row = std::stoull(line.substr(7));
        EXPECT_TRUE(seen.insert(row).second) << "two lines for row " << row;
        if (total[row] > 1) {
            EXPECT_NE(line.find("\"ambiguous\":true"), std::string::npos)
                << "row " << row << " was received " << total[row]
                << " times without the ambiguous mark";
        }
    }
    EXPECT_EQ(seen.size(), rows_);
}

INSTANTIATE_TEST_SUITE_P(SeededCuts, Durability,
                         ::testing::Combine(::testing::Values("local", "server"),
                                            ::testing::Range(1u, 17u)),
                         [](const auto& p) {
                             return std::string(std::get<0>(p.param)) + "_seed" +
                                    std::to_string(std::get<1>(p.param));
                         });

}  // namespace
}  // namespace salvo::engine
