// Whole jobs against the real emulator over loopback: every row gets exactly
// one fate, and what the emulator recorded agrees with the results file.
#include <salvo/emulator/server.hpp>
#include <salvo/engine/job.hpp>

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;

struct results_line {
    std::uint64_t row = 0;
    std::string email, status, code, error;
    bool ambiguous = false;
};

std::string field_of(const std::string& line, const std::string& key) {
    const std::string k = "\"" + key + "\":\"";
    const auto at = line.find(k);
    if (at == std::string::npos) return {};
    const auto start = at + k.size();
    return line.substr(start, line.find('"', start) - start);
}

std::vector<results_line> read_results(const fs::path& p) {
    std::vector<results_line> out;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) {
        results_line r;
        r.row = std::stoull(line.substr(7));
        r.email = field_of(line, "email");
        r.status = field_of(line, "status");
        r.code = field_of(line, "code");
        r.error = field_of(line, "error");
        r.ambiguous = line.find("\"ambiguous\":true") != std::string::npos;
        out.push_back(r);
    }
    return out;
}

class JobTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() / ("salvo-job-" + std::to_string(rd()));
        fs::create_directories(dir_);
        std::ofstream(dir_ / "body.html") << "<p>Hi %%first_name|friend%%, code %%code:url%%</p>";
    }
    void TearDown() override {
        emulator_.reset();
        fs::remove_all(dir_);
    }

    // rows recipients; every 50th has a bad address, every 97th repeats an
    // earlier address.
    void write_recipients(std::size_t rows) {
        std::ofstream out(dir_ / "recipients.csv");
        out << "email,first_name,code\n";
        for (std::size_t i = 1; i <= rows; ++i) {
            if (i % 50 == 0)
                out << "broken-address-" << i << ",X,c" << i << "\n";
            else if (i % 97 == 0)
                out << "user" << i - 1 << "@example.com,Dup,c" << i << "\n";
            else
                out << "user" << i << "@example.com,Name" << i << ",c " << i << "\n";
        }
    }

    void start_emulator(std::vector<emulator::fault_rule> faults = {}) {
        emulator::options o;
        o.record_in_memory = true;
        o.faults = std::move(faults);
        o.api_key = "test-key";
        auto s = emulator::server::start(o);
        ASSERT_TRUE(s) << s.error().message();
        emulator_ = std::move(*s);
    }

    // A fault that hits `times` requests after the first `after`.
    static emulator::fault_rule fault(emulator::fault_kind kind, std::uint64_t after,
                                      std::uint64_t times = UINT64_MAX) {
        emulator::fault_rule f;
        f.kind = kind;
        f.after = after;
        f.times = times;
        return f;
    }

    // --retry-failed with `c`: the `unknown` rows (`unknown` of `rows`) go
    // again marked ambiguous, and the emulator holds each of them twice
    // (recorded before the reset, and again now).
    void expect_unknown_rows_resent_as_ambiguous(job_config c, std::size_t unknown,
                                                 std::size_t rows) {
        auto j = retry_failed_job(std::move(c));
        ASSERT_TRUE(j);
        const report again = j->run();
        EXPECT_EQ(again.status, job_status::finished) << again.stop_detail;
        EXPECT_EQ(again.count(fate::unknown), 0u);
        EXPECT_EQ(again.ambiguous, unknown);
        check_accounting(again, rows);
        std::size_t delivered_twice = 0;
        for (const auto& [to, n] : deliveries()) delivered_twice += n == 2;
        EXPECT_EQ(delivered_twice, unknown);
    }

    // A job that re-sends the failed and unknown rows of the run on record.
    std::unique_ptr<job> retry_failed_job(job_config c) {
        run_options o;
        o.api_key = "test-key";
        o.retry_failed = true;
        auto j = job::create(std::move(c), o);
        EXPECT_TRUE(j) << (j ? "" : j.error().message);
        return j ? std::move(*j) : nullptr;
    }

    job_config config(const std::string& merge, std::vector<std::string> extra = {}) {
        std::string json = R"({"endpoint": ")" + emulator_->url() + R"(",
          "server_id": 4242, "recipients": "recipients.csv",
          "message": {"from": {"email": "news@example.com", "name": "News"},
                      "subject": "Hello %%first_name|friend%%", "html": {"file": "body.html"},
                      "text": "Code %%code%%"},
          "merge": ")" + merge +
                           R"(",
          "retry": {"base_delay_ms": 5, "max_delay_ms": 20},
          "timeouts": {"request_ms": 2000}})";
        auto c = parse_job(json, dir_, extra);
        EXPECT_TRUE(c) << c.error().message;
        return *c;
    }

    report run_job(job_config c, std::string key = "test-key") {
        run_options o;
        o.api_key = std::move(key);
        auto j = job::create(std::move(c), o);
        EXPECT_TRUE(j) << (j ? "" : j.error().message);
        if (!j) return {};
        return (*j)->run();
    }

    // The emulator's deliveries per address.
    // Every email delivered: by this test's emulator, and by the emulators
    // of earlier (killed) runs that recorded to files.
    std::map<std::string, int> deliveries() const {
        std::map<std::string, int> d;
        for (const auto& e : emulator_->recorded()) ++d[e.to];
        for (const auto& file : earlier_records_) {
            // A killed emulator may leave its last record torn: SIGKILL can
            // cut a write short. The emulator records a request before it
            // answers, so a torn record's request was never answered and
            // its rows cannot be accepted; only whole lines count.
            std::ifstream in(file);
            for (std::string line; std::getline(in, line);)
                if (!in.eof()) ++d[field_of(line, "to")];
        }
        return d;
    }

    // The invariants of every run: one line per decided row, accepted rows
    // delivered exactly once unless marked ambiguous, nothing else delivered.
    void check_accounting(const report& r, std::size_t rows) {
        const auto lines = read_results(dir_ / "results.ndjson");
        std::set<std::uint64_t> seen;
        std::map<std::string, std::uint64_t> by_status;
        for (const auto& l : lines) {
            EXPECT_TRUE(seen.insert(l.row).second) << "row " << l.row << " has two lines";
            ++by_status[l.status];
        }
        // Every row read has a line or is pending; a job that stopped early
        // may not have read the rest of the file (a chunk at a time).
        EXPECT_EQ(lines.size() + r.pending, r.rows_read);
        EXPECT_LE(r.rows_read, rows);
        if (r.status == job_status::finished) {
            EXPECT_EQ(r.rows_read, rows);
        }
        for (std::size_t f = 0; f < fate_count; ++f)
            EXPECT_EQ(r.fates[f], by_status[std::string(to_string(static_cast<fate>(f)))])
                << to_string(static_cast<fate>(f));
        const auto d = deliveries();
        std::set<std::string> accepted;
        for (const auto& l : lines) {
            if (l.status == "accepted") {
                accepted.insert(l.email);
                const auto it = d.find(l.email);
                ASSERT_NE(it, d.end()) << "accepted but never delivered: " << l.email;
                if (!l.ambiguous) {
                    EXPECT_EQ(it->second, 1) << l.email;
                }
            }
        }
        for (const auto& [to, n] : d) {
            const bool known = accepted.count(to) > 0;
            if (!known) {
                // Delivered but not accepted: only an ambiguous or undecided row.
                bool allowed = r.pending > 0;
                for (const auto& l : lines)
                    if (l.email == to && (l.ambiguous || l.status == "unknown")) allowed = true;
                EXPECT_TRUE(allowed) << "delivered without being accepted: " << to;
            }
        }
    }

    fs::path dir_;
    std::unique_ptr<emulator::server> emulator_;
    std::vector<fs::path> earlier_records_;
};

TEST_F(JobTest, LocalModeAccountsForEveryRow) {
    write_recipients(3000);
    start_emulator();
    const report r = run_job(config("local"));
    EXPECT_EQ(r.status, job_status::finished) << r.stop_detail;
    EXPECT_EQ(r.rows_read, 3000u);
    EXPECT_EQ(r.count(fate::invalid), 60u);
    EXPECT_GT(r.count(fate::duplicate), 20u);
    EXPECT_EQ(r.count(fate::accepted) + r.count(fate::invalid) + r.count(fate::duplicate), 3000u);
    EXPECT_EQ(r.pending, 0u);
    check_accounting(r, 3000);
    // What was delivered is what was meant.
    for (const auto& e : emulator_->recorded()) {
        if (e.to != "user7@example.com") continue;
        EXPECT_EQ(e.subject, "Hello Name7");
        EXPECT_EQ(e.html, "<p>Hi Name7, code c%207</p>");
        EXPECT_EQ(e.text, "Code c 7");
        EXPECT_EQ(e.from, "news@example.com");
    }
}

TEST_F(JobTest, ServerModeDeliversTheSameEmails) {
    write_recipients(3000);
    start_emulator();
    const report r = run_job(config("server"));
    EXPECT_EQ(r.status, job_status::finished) << r.stop_detail;
    EXPECT_EQ(r.count(fate::invalid), 60u);
    check_accounting(r, 3000);
    bool found = false;
    for (const auto& e : emulator_->recorded()) {
        if (e.to != "user7@example.com") continue;
        found = true;
        EXPECT_EQ(e.subject, "Hello Name7");
        EXPECT_EQ(e.html, "<p>Hi Name7, code c%207</p>");
        EXPECT_EQ(e.text, "Code c 7");
    }
    EXPECT_TRUE(found);
    EXPECT_LT(r.requests, 20u);  // 500 rows per request
}

TEST_F(JobTest, RerunningAFinishedJobSendsNothing) {
    write_recipients(200);
    start_emulator();
    const report first = run_job(config("local"));
    ASSERT_EQ(first.status, job_status::finished);
    const auto delivered = emulator_->recorded().size();
    const report again = run_job(config("local"));
    EXPECT_EQ(again.status, job_status::already_finished);
    EXPECT_EQ(emulator_->recorded().size(), delivered);
    EXPECT_EQ(again.count(fate::accepted), first.count(fate::accepted));
}

TEST_F(JobTest, ServerErrorsAreRetriedAndRejectedAddressesRecorded) {
    write_recipients(2000);
    emulator::fault_rule unavailable;
    unavailable.kind = emulator::fault_kind::http_503;
    unavailable.rate = 0.2;
    emulator::fault_rule reject;
    reject.kind = emulator::fault_kind::reject_address;
    reject.pattern = "^user1[0-9]@";
    start_emulator({unavailable, reject});
    const report r = run_job(config("local", {"retry.max_attempts=8"}));
    EXPECT_EQ(r.status, job_status::finished) << r.stop_detail;
    EXPECT_GT(r.retries, 0u);
    EXPECT_EQ(r.count(fate::rejected), 10u);  // user10 … user19
    check_accounting(r, 2000);
    for (const auto& l : read_results(dir_ / "results.ndjson"))
        if (l.status == "rejected") {
            EXPECT_EQ(l.code, "InvalidAddress");
        }
}

TEST_F(JobTest, MaybeDeliveredRowsAreResentAndMarkedAmbiguous) {
    write_recipients(500);
    start_emulator({fault(emulator::fault_kind::reset_after_body, 3, 2)});
    const report r = run_job(config("local"));
    EXPECT_EQ(r.status, job_status::finished) << r.stop_detail;
    EXPECT_EQ(r.ambiguous, 20u);  // two requests of 10
    check_accounting(r, 500);
}

TEST_F(JobTest, HoldPolicyMakesMaybeDeliveredRowsUnknown) {
    write_recipients(500);
    start_emulator({fault(emulator::fault_kind::reset_after_body, 3, 1)});
    const report r = run_job(config("local", {"retry.ambiguous=hold"}));
    EXPECT_EQ(r.count(fate::unknown), 10u);
    check_accounting(r, 500);
}

// A request that may have been delivered (sent whole, never answered) and
// ends while the job stops is not failed: it stays in doubt, and the next
// run sends it again marked ambiguous.
TEST_F(JobTest, MaybeDeliveredWhileStoppingStaysInDoubt) {
    write_recipients(500);
    start_emulator({fault(emulator::fault_kind::no_response, 2, 1)});
    run_options o;
    o.api_key = "test-key";
    auto j = job::create(config("local", {"rate.max_in_flight=1", "timeouts.request_ms=400"}), o);
    ASSERT_TRUE(j) << j.error().message;
    (*j)->start();
    // The third request is on the wire and will never be answered: stop.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (emulator_->counters().requests < 3 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_EQ(emulator_->counters().requests, 3u);
    (*j)->cancel();
    const report r = (*j)->wait();
    EXPECT_EQ(r.status, job_status::cancelled);
    EXPECT_EQ(r.count(fate::failed), 0u) << "a maybe-delivered request was failed";
    EXPECT_EQ(r.count(fate::unknown), 0u);
    EXPECT_EQ(r.count(fate::accepted), 20u);
    EXPECT_GE(r.pending, 10u);
    check_accounting(r, 500);

    emulator_.reset();
    start_emulator();
    const report resumed = run_job(config("local"));
    EXPECT_EQ(resumed.status, job_status::finished) << resumed.stop_detail;
    EXPECT_EQ(resumed.ambiguous, 10u);  // the third request's rows, sent again
    EXPECT_EQ(resumed.pending, 0u);
    EXPECT_EQ(resumed.count(fate::failed), 0u);
    EXPECT_EQ(resumed.count(fate::accepted), r.count(fate::accepted) + r.pending);
}

// A send that is cancelled before its body leaves delivered nothing, but an
// earlier send of the same rows may have: the re-send after a maybe-delivered
// outcome, or a run's first send of rows left in doubt by the run before.
// Those rows stay in doubt across both stops, and the run that finally sends
// them marks them ambiguous. (Releasing them made that send look like the
// first: the rows reached the emulator twice, unmarked.)
TEST_F(JobTest, ASendCancelledBeforeItLeavesKeepsEarlierSendsInDoubt) {
    write_recipients(500);
    // The third request is delivered and its connection reset; every later
    // one gets a 503, and its retry waits (up to a minute, jittered).
    start_emulator({fault(emulator::fault_kind::reset_after_body, 2, 1),
                    fault(emulator::fault_kind::http_503, 3)});
    const std::vector<std::string> slow_retries = {
        "rate.max_in_flight=1", "retry.base_delay_ms=60000", "retry.max_delay_ms=60000"};
    // Stops the job once the emulator has answered `requests`, with time for
    // the transport to take in the answers and start waiting. (A request
    // waiting to retry leaves its slot to the next, so more may have come.)
    const auto cancel_after = [&](std::unique_ptr<job>& j, std::uint64_t requests) {
        j->start();
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (emulator_->counters().requests < requests &&
               std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        EXPECT_GE(emulator_->counters().requests, requests);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        j->cancel();
        return j->wait();
    };
    run_options o;
    o.api_key = "test-key";

    // Run 1: the re-send of the third request (marked ambiguous) waits to
    // retry a 503 when the job stops.
    auto first = job::create(config("local", slow_retries), o);
    ASSERT_TRUE(first) << first.error().message;
    const report r1 = cancel_after(*first, 4);
    EXPECT_EQ(r1.status, job_status::cancelled);
    EXPECT_EQ(r1.count(fate::accepted), 20u);
    EXPECT_GE(r1.pending, 10u);
    check_accounting(r1, 500);

    // Run 2: its first request holds those rows, in doubt; it too waits to
    // retry a 503 when the job stops.
    emulator_.reset();
    start_emulator({fault(emulator::fault_kind::http_503, 0)});
    auto second = job::create(config("local", slow_retries), o);
    ASSERT_TRUE(second) << second.error().message;
    const report r2 = cancel_after(*second, 1);
    EXPECT_EQ(r2.status, job_status::cancelled);
    EXPECT_EQ(r2.count(fate::accepted), 20u);

    // Run 3 sends them for the last time, marked ambiguous; the emulator of
    // run 1 delivered them once already.
    const auto delivered = emulator_->recorded();
    emulator_.reset();
    start_emulator();
    const report resumed = run_job(config("local"));
    EXPECT_EQ(resumed.status, job_status::finished) << resumed.stop_detail;
    EXPECT_EQ(resumed.ambiguous, 10u) << "the third request's rows were sent again unmarked";
    EXPECT_EQ(resumed.pending, 0u);
    EXPECT_TRUE(delivered.empty());  // run 2's emulator only answered 503
    std::set<std::string> ambiguous;
    for (const auto& l : read_results(dir_ / "results.ndjson"))
        if (l.ambiguous) ambiguous.insert(l.email);
    std::set<std::string> third;
    for (int i = 21; i <= 30; ++i) {
        std::string email = "user";
        email += std::to_string(i);
        third.insert(email + "@example.com");
    }
    EXPECT_EQ(ambiguous, third);
}

TEST_F(JobTest, AuthenticationFailureStopsAndAResumeCompletes) {
    write_recipients(2000);
    start_emulator({fault(emulator::fault_kind::invalid_authentication, 20)});
    const report r = run_job(config("local", {"rate.max_in_flight=1"}));
    EXPECT_EQ(r.status, job_status::stopped_auth);
    EXPECT_GT(r.pending, 0u);
    const auto requests_then = emulator_->counters().requests;
    EXPECT_EQ(requests_then, 21u);  // nothing after the 401
    check_accounting(r, 2000);

    emulator_.reset();
    start_emulator();
    auto c = config("local");
    const report resumed = run_job(c);
    EXPECT_EQ(resumed.status, job_status::finished) << resumed.stop_detail;
    EXPECT_EQ(resumed.pending, 0u);
    EXPECT_EQ(resumed.ambiguous, 0u);  // the refused rows were certainly not delivered
    const auto lines = read_results(dir_ / "results.ndjson");
    EXPECT_EQ(lines.size(), 2000u);
    std::set<std::uint64_t> rows;
    for (const auto& l : lines) EXPECT_TRUE(rows.insert(l.row).second);
}

TEST_F(JobTest, RetryFailedResendsOnlyTheFailedRowsAndReplacesTheirLines) {
    write_recipients(1000);
    start_emulator({fault(emulator::fault_kind::http_503, 5, 3)});
    const report first = run_job(config("local", {"retry.max_attempts=1", "rate.max_in_flight=1"}));
    ASSERT_EQ(first.status, job_status::finished) << first.stop_detail;
    EXPECT_EQ(first.count(fate::failed), 30u);  // three requests of 10
    check_accounting(first, 1000);
    const auto delivered = emulator_->recorded().size();

    // Nothing to retry for rows that are decided otherwise: a plain re-run
    // sends nothing.
    EXPECT_EQ(run_job(config("local")).status, job_status::already_finished);
    EXPECT_EQ(emulator_->recorded().size(), delivered);

    auto j = retry_failed_job(config("local"));
    ASSERT_TRUE(j);
    EXPECT_EQ(j->recovered().reopened, 30u);
    const report again = j->run();
    EXPECT_EQ(again.status, job_status::finished) << again.stop_detail;
    EXPECT_EQ(again.count(fate::failed), 0u);
    EXPECT_EQ(again.accepted_this_run, 30u);
    EXPECT_EQ(emulator_->recorded().size(), delivered + 30);
    EXPECT_EQ(again.ambiguous, 0u);  // a 503 is certainly not delivered
    check_accounting(again, 1000);
    EXPECT_EQ(read_results(dir_ / "results.ndjson").size(), 1000u);
}

// Auto-pause stops before it marks: the failed requests of the window that
// paused the job are released (pending), not failed, and the same command
// sends them once the cause is gone.
TEST_F(JobTest, AutoPauseReleasesTheFailingWindowInsteadOfFailingIt) {
    write_recipients(1000);
    start_emulator({fault(emulator::fault_kind::http_503, 20, 6)});
    const std::vector<std::string> args{"retry.max_attempts=1", "rate.max_in_flight=1",
                                        "auto_pause.window_requests=10",
                                        "auto_pause.failure_share=0.5"};
    const report first = run_job(config("local", args));
    ASSERT_EQ(first.status, job_status::paused) << first.stop_detail;
    EXPECT_NE(first.stop_detail.find("released"), std::string::npos) << first.stop_detail;
    EXPECT_EQ(first.count(fate::failed), 0u) << "auto-pause marked rows failed";
    EXPECT_GE(first.pending, 60u);  // the six 503'd requests' rows
    check_accounting(first, 1000);

    const report second = run_job(config("local", args));
    EXPECT_EQ(second.status, job_status::finished) << second.stop_detail;
    EXPECT_EQ(second.count(fate::failed), 0u);
    EXPECT_EQ(second.pending, 0u);
    check_accounting(second, 1000);
}

TEST_F(JobTest, RetryFailedResendsUnknownRowsAsAmbiguousEvenUnderHold) {
    write_recipients(500);
    start_emulator({fault(emulator::fault_kind::reset_after_body, 3, 1)});
    const report first = run_job(config("local", {"retry.ambiguous=hold"}));
    ASSERT_EQ(first.count(fate::unknown), 10u);

    expect_unknown_rows_resent_as_ambiguous(config("local", {"retry.ambiguous=hold"}), 10, 500);
}

// Maybe delivered on its last allowed send (retry.max_attempts 1): the rows
// are `unknown`, not `failed`, and --retry-failed sends them again marked
// ambiguous. (As `failed` they went again unmarked: delivered twice, with
// nothing in the results to say so.)
TEST_F(JobTest, MaybeDeliveredOnTheLastSendIsUnknownAndResentAsAmbiguous) {
    write_recipients(500);
    start_emulator({fault(emulator::fault_kind::reset_after_body, 3, 1)});
    const report first = run_job(config("local", {"retry.max_attempts=1", "rate.max_in_flight=1"}));
    EXPECT_EQ(first.count(fate::unknown), 10u);
    EXPECT_EQ(first.count(fate::failed), 0u);
    check_accounting(first, 500);
    // The line says what happened and what to do next.
    std::size_t explained = 0;
    for (const auto& l : read_results(dir_ / "results.ndjson")) {
        if (l.status != "unknown") continue;
        EXPECT_NE(l.error.find("sent once, maybe delivered"), std::string::npos) << l.error;
        EXPECT_NE(l.error.find("--retry-failed"), std::string::npos) << l.error;
        ++explained;
    }
    EXPECT_EQ(explained, 10u);

    expect_unknown_rows_resent_as_ambiguous(config("local", {"retry.max_attempts=1"}), 10, 500);
}

TEST_F(JobTest, RetryFailedWithoutAJournalSendsNothing) {
    write_recipients(10);
    start_emulator();
    run_options o;
    o.api_key = "test-key";
    o.retry_failed = true;
    auto j = job::create(config("local"), o);
    ASSERT_FALSE(j);
    EXPECT_NE(j.error().message.find("no journal at"), std::string::npos) << j.error().message;
    EXPECT_FALSE(fs::exists(dir_ / "campaign.journal"));
    EXPECT_TRUE(emulator_->recorded().empty());
}

TEST_F(JobTest, RetryFailedAndRestartTogetherAreRefused) {
    write_recipients(10);
    start_emulator();
    run_options o;
    o.api_key = "test-key";
    o.retry_failed = true;
    o.restart = true;
    auto j = job::create(config("local"), o);
    ASSERT_FALSE(j);
    EXPECT_NE(j.error().message.find("--retry-failed"), std::string::npos) << j.error().message;
}

TEST_F(JobTest, AnotherCampaignsJournalIsRefused) {
    write_recipients(100);
    start_emulator();
    ASSERT_EQ(run_job(config("local")).status, job_status::finished);
    auto c = config("server");
    run_options o;
    o.api_key = "test-key";
    auto j = job::create(c, o);
    ASSERT_FALSE(j);
    EXPECT_NE(j.error().message.find("another campaign"), std::string::npos);
    EXPECT_NE(j.error().message.find("merge"), std::string::npos) << j.error().message;
}

// Three shards of one campaign, run one after the other: every row is
// decided in exactly one shard's results, each accepted address delivered
// once, and the MessageIds unique across the shards under one MailingId.
TEST_F(JobTest, ShardsDecideEveryRowOnceWithUniqueMessageIds) {
    constexpr std::size_t rows = 1000;
    write_recipients(rows);
    start_emulator();
    std::map<std::uint64_t, std::uint32_t> owner;
    std::set<std::string> message_ids, mailing_ids;
    std::uint64_t duplicates = 0;
    for (std::uint32_t k = 0; k < 3; ++k) {
        const auto c = config(k == 1 ? "server" : "local", {"shard=" + std::to_string(k) + "/3"});
        const auto r = run_job(c);
        EXPECT_EQ(r.status, job_status::finished);
        EXPECT_EQ(r.pending, 0u);
        const auto file = dir_ / ("results.shard-" + std::to_string(k) + "-of-3.ndjson");
        ASSERT_EQ(c.results, file);
        const auto lines = read_results(file);
        EXPECT_EQ(lines.size(), r.rows_read) << "a shard counts only its own rows";
        EXPECT_LT(lines.size(), rows / 2);
        std::ifstream in(file);
        for (std::string line; std::getline(in, line);) {
            const auto id = field_of(line, "message_id");
            if (field_of(line, "status") != "accepted") continue;
            EXPECT_TRUE(message_ids.insert(id).second) << "MessageId twice: " << id;
            mailing_ids.insert(id.substr(0, id.find('-', 6)));
        }
        for (const auto& l : lines) {
            EXPECT_TRUE(owner.emplace(l.row, k).second) << "row " << l.row << " in two shards";
            if (l.status == "duplicate") ++duplicates;
            if (l.status == "invalid") {
                EXPECT_EQ(l.row % 3, k);
            }
        }
    }
    EXPECT_EQ(owner.size(), rows);
    EXPECT_EQ(mailing_ids.size(), 1u) << "one MailingId for the whole campaign";
    // Rows 97, 194, …, 970 repeat the row before.
    EXPECT_EQ(duplicates, 10u);
    for (const auto& [to, n] : deliveries()) EXPECT_EQ(n, 1) << to;
    EXPECT_EQ(deliveries().size(), message_ids.size());
}

// A row's results line carries the MessageId its delivered email carried:
// the default one (the MailingId, '-', the address), which the render
// stage writes without the template engine, and a template of its own.
TEST_F(JobTest, TheResultsMessageIdIsTheOneTheEmailCarried) {
    constexpr std::size_t rows = 300;
    write_recipients(rows);
    for (const std::string merge : {"local", "server"}) {
        for (const std::string id : {"", "id-%%code:url%%-%%email%%"}) {
            SCOPED_TRACE(merge + " MessageId '" + id + "'");
            start_emulator();
            std::vector<std::string> extra = {"message.mailing_id=nov",
                                              "journal=journal-" + merge + id.substr(0, 2)};
            extra.push_back("results=results-" + merge + id.substr(0, 2) + ".ndjson");
            if (!id.empty()) extra.push_back("message.message_id=" + id);
            const auto c = config(merge, extra);
            const auto r = run_job(c);
            ASSERT_EQ(r.status, job_status::finished);
            std::map<std::string, std::string> carried;  // by address
            for (const auto& e : emulator_->recorded()) carried[e.to] = e.message_id;
            std::size_t accepted = 0;
            std::ifstream in(c.results);
            for (std::string line; std::getline(in, line);) {
                if (field_of(line, "status") != "accepted") continue;
                ++accepted;
                const auto email = field_of(line, "email");
                ASSERT_TRUE(carried.count(email)) << email;
                const std::string want =
                    id.empty() ? "nov-" + email
                               : "id-c%20" + email.substr(4, email.find('@') - 4) + "-" + email;
                EXPECT_EQ(field_of(line, "message_id"), want) << line;
                EXPECT_EQ(carried[email], want) << email;
            }
            EXPECT_EQ(accepted, carried.size());
            EXPECT_GT(accepted, rows * 9 / 10);
        }
    }
}

TEST_F(JobTest, AJournalOfAnotherShardOrAnotherCountIsRefused) {
    write_recipients(100);
    start_emulator();
    ASSERT_EQ(run_job(config("local", {"shard=0/3"})).status, job_status::finished);
    const auto refused = [&](const std::string& shard) {
        auto c = config("local", {"shard=" + shard});
        c.journal = dir_ / "campaign.shard-0-of-3.journal";
        run_options o;
        o.api_key = "test-key";
        auto j = job::create(c, o);
        EXPECT_FALSE(j) << shard;
        return j ? std::string() : j.error().message;
    };
    const auto other_shard = refused("1/3");
    EXPECT_NE(other_shard.find("belongs to shard 0/3, and this run is shard 1/3"),
              std::string::npos)
        << other_shard;
    const auto other_count = refused("0/2");
    EXPECT_NE(other_count.find("shard 0/3"), std::string::npos) << other_count;
    // The shard's own journal still resumes: nothing left to send.
    const auto again = run_job(config("local", {"shard=0/3"}));
    EXPECT_EQ(again.status, job_status::already_finished);
}

// Kill the job with SIGKILL at seeded moments, resume, and check that the
// emulator's record plus the results file account for every row once.
// Each killed run is a forked child that starts its own emulator (recording
// to a file, flushed before every answer): the parent has no threads when
// it forks. Forking while an in-process emulator runs could leave the child
// with an allocator lock that a parent thread held (ASan's is not fork-safe).
TEST_F(JobTest, KilledJobsResumeWithoutLosingOrDuplicatingRows) {
    write_recipients(6000);
    std::mt19937 rng(7);
    for (int round = 0; round < 3; ++round) {
        const std::uint64_t kill_after = 200 + rng() % 1500;
        const fs::path record = dir_ / ("round-" + std::to_string(round) + ".ndjson");
        const pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            emulator::options eo;
            eo.api_key = "test-key";
            eo.record_file = record.string();
            auto s = emulator::server::start(eo);
            if (!s) _exit(3);
            emulator_ = std::move(*s);
            run_options o;
            o.api_key = "test-key";
            std::atomic<std::uint64_t> decided{0};
            o.on_row = [&](const row_outcome&) {
                if (++decided == kill_after) ::raise(SIGKILL);
            };
            auto j = job::create(config("local", {"rate.max_in_flight=4"}), o);
            if (!j) _exit(2);
            (void)(*j)->run();
            _exit(0);
        }
        int status = 0;
        ASSERT_EQ(waitpid(child, &status, 0), child);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            << "round " << round << ": the child did not die at its seeded row";
        earlier_records_.push_back(record);
    }
    start_emulator();
    const report r = run_job(config("local"));
    EXPECT_EQ(r.status, job_status::finished) << r.stop_detail;
    EXPECT_EQ(r.pending, 0u);
    check_accounting(r, 6000);
}

}  // namespace
}  // namespace salvo::engine
