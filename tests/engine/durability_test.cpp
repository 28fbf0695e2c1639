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
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;

class Durability : public ::testing::TestWithParam<std::tuple<const char*, unsigned>> {
  protected:
    // Every tenth row has no address and every fifteenth repeats one seven
    // rows up (dedupe is on), so fate records of other kinds sit between
    // the accepted rows' records.
    void SetUp() override {
        std::ofstream out(dir_ / "recipients.csv");
        out << "email,first_name\n";
        std::set<std::uint64_t> used;
        for (std::uint64_t i = 1; i <= rows_; ++i) {
            std::uint64_t address = i;
            if (i % 10 == 0) {
                out << "not-an-address-" << i << ",N" << i << "\n";
                expected_[i] = "invalid";
                continue;
            }
            if (i % 15 == 0) address = i - 7;
            out << "user" << address << "@example.com,N" << i << "\n";
            expected_[i] = used.insert(address).second ? "accepted" : "duplicate";
        }
        for (const auto& [row, status] : expected_) sendable_ += status == "accepted";
        emulator::options o;
        o.record_in_memory = true;
        o.api_key = "test-key";
        auto s = emulator::server::start(o);
        ASSERT_TRUE(s) << s.error().message();
        emulator_ = std::move(*s);
    }
    void TearDown() override { emulator_.reset(); }

    // `endpoint` another emulator's; `extra` more keys, each with its comma.
    job_config config(const std::string& endpoint = {}, const std::string& extra = {}) {
        // One message a request (a row in local mode, five in server mode):
        // many requests, so that a cut falls between them.
        const std::string mode = std::get<0>(GetParam());
        const std::string url = endpoint.empty() ? emulator_->url() : endpoint;
        const std::string json = R"({"endpoint": ")" + url + R"(",
          "server_id": 7, "recipients": "recipients.csv",
          "message": {"from": "news@example.com", "subject": "Hi %%first_name%%",
                      "text": "Hello %%first_name%%"},
          "dedupe": true,
          "limits": {"messages_per_request": 1, "recipients_per_message": 5},)" +
                                 extra + R"("rate": {"max_in_flight": 4}, "merge": ")" + mode +
                                 R"("})";
        auto c = parse_job(json, dir_.path());
        EXPECT_TRUE(c) << (c ? "" : c.error().message);
        return c ? *c : job_config{};
    }

    // A cut can make the open itself fail: callers that allow it use this.
    boost::system::result<std::unique_ptr<job>, run_error> create_job(
        ledger_io* io, bool retry_failed = false, const std::string& endpoint = {},
        const std::string& extra = {}) {
        run_options o;
        o.api_key = "test-key";
        o.chunk_bytes = 2048;  // about 75 rows a chunk: many dispatch batches
        o.ledger_files = io;
        o.retry_failed = retry_failed;
        return job::create(config(endpoint, extra), o);
    }

    std::unique_ptr<job> make_job(ledger_io* io, bool retry_failed = false) {
        auto j = create_job(io, retry_failed);
        EXPECT_TRUE(j) << (j ? "" : j.error().message);
        return j ? std::move(*j) : nullptr;
    }

    // Row number from the address user<N>@example.com.
    static std::uint64_t row_of(const std::string& address) {
        return std::stoull(address.substr(4, address.find('@') - 4));
    }

    // The power goes: plain (the disk keeps what was synced) or, on a
    // seeded coin, torn (it kept a seeded share of the rest as well).
    static void power_off(test::power_cut_io& io, std::mt19937& rng) {
        if (rng() % 2 == 1)
            io.power_off_torn(static_cast<std::uint32_t>(rng()));
        else
            io.power_off();
    }

    // A run that loses power at the n-th fsync, opening the ledger
    // included (the open then fails); the power goes with it.
    void run_cut_at(unsigned n, std::mt19937& rng, bool retry_failed = false) {
        test::power_cut_io io;
        io.cut_at_sync(n);
        {
            auto j = create_job(&io, retry_failed);
            if (j) (void)(*j)->run();
        }
        power_off(io, rng);
    }

    // Every row a server received (`arrivals`, by address number) is
    // decided or in doubt in what `j` recovered: its D record was on disk.
    static void expect_dispatch_records(const job& j,
                                        const std::map<std::uint64_t, int>& arrivals) {
        const ledger_state& state = j.recovered();
        const std::set<std::uint64_t> doubt(state.in_doubt.begin(), state.in_doubt.end());
        for (const auto& [row, n] : arrivals)
            EXPECT_TRUE(state.is_decided(row) || doubt.count(row))
                << "row " << row << " reached the server but has no dispatch record on disk";
    }

    // Adds what `s` received to `m`: address number -> times received.
    static void count_arrivals(const emulator::server& s, std::map<std::uint64_t, int>& m) {
        for (const auto& e : s.recorded()) ++m[row_of(e.to)];
    }

    std::map<std::uint64_t, int> arrivals() const {
        std::map<std::uint64_t, int> m;
        count_arrivals(*emulator_, m);
        return m;
    }

    // Another emulator, whose requests meet `faults` (seeded by `seed`).
    static std::unique_ptr<emulator::server> faulty_emulator(
        unsigned seed, std::vector<emulator::fault_rule> faults) {
        emulator::options o;
        o.record_in_memory = true;
        o.api_key = "test-key";
        o.seed = seed;
        o.faults = std::move(faults);
        auto s = emulator::server::start(o);
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : nullptr;
    }

    // After the last run: every row has one line with its fate, a row the
    // servers received more than once (`received`: by address number) is
    // marked ambiguous, and the report counts every sendable row accepted.
    void check_results(const report& r, const std::map<std::uint64_t, int>& received) {
        EXPECT_EQ(r.count(fate::accepted), sendable_);
        std::ifstream in(dir_ / "results.ndjson");
        std::set<std::uint64_t> seen;
        for (std::string line; std::getline(in, line);) {
            const std::uint64_t row = std::stoull(line.substr(7));
            EXPECT_TRUE(seen.insert(row).second) << "two lines for row " << row;
            EXPECT_NE(line.find("\"status\":\"" + expected_[row] + "\""), std::string::npos)
                << line;
            const auto n = received.find(row);
            if (expected_[row] == "accepted" && n != received.end() && n->second > 1) {
                EXPECT_NE(line.find("\"ambiguous\":true"), std::string::npos)
                    << "row " << row << " was received " << n->second
                    << " times without the ambiguous mark";
            }
        }
        EXPECT_EQ(seen.size(), rows_);
    }

    const std::size_t rows_ = 3000;
    std::map<std::uint64_t, std::string> expected_;  // row -> its fate
    std::uint64_t sendable_ = 0;                     // rows to be accepted
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

    EXPECT_LT(arrivals().size(), sendable_) << "the power cut came after the last request";

    auto resumed = make_job(nullptr);
    ASSERT_TRUE(resumed);
    expect_dispatch_records(*resumed, arrivals());

    // The resumed run completes the campaign: one line per row, and a row
    // the server may now have twice is marked ambiguous.
    const report r = resumed->run();
    ASSERT_EQ(r.status, job_status::finished) << r.stop_detail;
    check_results(r, arrivals());
}

// The power goes twice: in the run, and again in the run that resumes it
// (opening the ledger included, while it rebuilds the results file). The
// third run still accounts for every row the server ever received.
TEST_P(Durability, APowerCutWhileResumingLosesNothingEither) {
    const unsigned seed = std::get<1>(GetParam());
    std::mt19937 rng(seed + 1000);
    run_cut_at(3 + static_cast<unsigned>(rng() % 20), rng);
    ASSERT_LT(arrivals().size(), sendable_) << "the power cut came after the last request";
    run_cut_at(1 + static_cast<unsigned>(rng() % 25), rng);

    auto last = make_job(nullptr);
    ASSERT_TRUE(last);
    expect_dispatch_records(*last, arrivals());
    // The second run may have finished before its cut came.
    const report r = last->run();
    ASSERT_TRUE(r.status == job_status::finished || r.status == job_status::already_finished)
        << to_string(r.status) << ": " << r.stop_detail;
    check_results(r, arrivals());
}

// --retry-failed, cut: the run that reopens the failed rows (R records, the
// results file rebuilt and renamed into place, then the re-sends) loses
// power at a seeded moment, the open included. The same command again
// finishes the campaign: one line a row, every row accepted, and a row the
// servers received twice marked ambiguous.
TEST_P(Durability, APowerCutWhileRetryingFailedRowsLosesNothing) {
    const unsigned seed = std::get<1>(GetParam());
    std::mt19937 rng(seed + 2000);
    // The first run: about one request in five answered 503, not retried.
    emulator::fault_rule refuse;
    refuse.kind = emulator::fault_kind::http_503;
    refuse.rate = 0.2;
    const auto faulty = faulty_emulator(seed, {refuse});
    ASSERT_TRUE(faulty);
    const std::string no_retry = R"("retry": {"max_attempts": 1},)";
    {
        auto j = create_job(nullptr, false, faulty->url(), no_retry);
        ASSERT_TRUE(j) << j.error().message;
        const report r = (*j)->run();
        ASSERT_EQ(r.status, job_status::finished) << r.stop_detail;
        ASSERT_GT(r.count(fate::failed), 0u);
    }
    run_cut_at(1 + static_cast<unsigned>(rng() % 15), rng, true);
    auto last = make_job(nullptr, true);
    ASSERT_TRUE(last);
    const report r = last->run();
    ASSERT_TRUE(r.status == job_status::finished || r.status == job_status::already_finished)
        << to_string(r.status) << ": " << r.stop_detail;
    std::map<std::uint64_t, int> total = arrivals();
    count_arrivals(*faulty, total);
    check_results(r, total);
}

// No power cut, a flaky endpoint: one request in ten answered 503, one in
// twenty reset before the server read its body, one in twenty reset after
// it recorded the emails (maybe delivered). Retries, the retry budget and
// the circuit all act; every row still ends with one line, accepted, and a
// row the server received twice is marked ambiguous.
TEST_P(Durability, AFlakyEndpointGivesEveryRowOneFateAndMarksEveryResend) {
    std::vector<emulator::fault_rule> faults(3);
    faults[0].kind = emulator::fault_kind::http_503;
    faults[0].rate = 0.1;
    faults[1].kind = emulator::fault_kind::reset_before_body;
    faults[1].rate = 0.05;
    faults[2].kind = emulator::fault_kind::reset_after_body;
    faults[2].rate = 0.05;
    const auto flaky = faulty_emulator(std::get<1>(GetParam()), std::move(faults));
    ASSERT_TRUE(flaky);
    const std::string quick = R"("retry": {"base_delay_ms": 1, "max_delay_ms": 20},)";
    auto j = create_job(nullptr, false, flaky->url(), quick);
    ASSERT_TRUE(j) << j.error().message;
    const report r = (*j)->run();
    ASSERT_EQ(r.status, job_status::finished) << r.stop_detail;
    std::map<std::uint64_t, int> received;
    count_arrivals(*flaky, received);
    EXPECT_GT(r.ambiguous, 0u) << "no request was resent after a reset: nothing tested";
    check_results(r, received);
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
