// The ledger: one line per decided row, recovery after a kill or a torn
// write, and refusal of another campaign's journal.
#include "ledger.hpp"

#include "support/power_cut_io.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines_of(const fs::path& p) {
    std::vector<std::string> out;
    std::istringstream in(slurp(p));
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

class LedgerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() / ("salvo-ledger-" + std::to_string(rd()));
        fs::create_directories(dir_);
        options_.journal = dir_ / "job.journal";
        options_.results = dir_ / "results.ndjson";
        fp_.parts = {{"templates", "aa11"}, {"recipients", "bb22"}, {"merge", "local"}};
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::unique_ptr<ledger> open_ledger(ledger_state& state) {
        auto l = ledger::open(options_, fp_, state);
        EXPECT_TRUE(l) << (l ? "" : l.error().message());
        return l ? std::move(*l) : nullptr;
    }

    static row_outcome accepted(std::uint64_t row) {
        row_outcome o;
        o.row = row;
        o.line = row + 1;
        o.email = "user@example.com";
        o.status = fate::accepted;
        o.attempts = 1;
        return o;
    }

    fs::path dir_;
    ledger_options options_;
    job_fingerprint fp_;
};

TEST(ResultsLine, HasOnlyTheKeysThatApply) {
    std::string out;
    row_outcome o;
    o.row = 7;
    o.line = 9;
    o.email = "a\"b@x.io";
    o.status = fate::rejected;
    o.code = "InvalidAddress";
    o.attempts = 2;
    o.message_id = "m-1";
    append_results_line(out, o);
    EXPECT_EQ(
        out,
        R"({"row":7,"line":9,"email":"a\"b@x.io","status":"rejected","code":"InvalidAddress","attempts":2,"message_id":"m-1"})"
        "\n");
    out.clear();
    row_outcome inv;
    inv.row = 1;
    inv.line = 2;
    inv.email = "bad";
    inv.status = fate::invalid;
    inv.error = "row 1, line 2, field email: no @";
    append_results_line(out, inv);
    EXPECT_EQ(
        out,
        R"({"row":1,"line":2,"email":"bad","status":"invalid","error":"row 1, line 2, field email: no @"})"
        "\n");
    out.clear();
    row_outcome amb;
    amb.row = 3;
    amb.email = "c@x.io";
    amb.ambiguous = true;
    append_results_line(out, amb);
    EXPECT_NE(out.find(",\"ambiguous\":true}"), std::string::npos);
    // The widest numbers, and values that escape to six bytes a byte, after
    // a line already in the buffer: written whole, nothing past the bound.
    out = "x";
    const std::string email(40, '\x01'), code(30, '\x1f'), error(300, '"'), id(50, '\x02');
    row_outcome wide;
    wide.row = UINT64_MAX;
    wide.line = UINT64_MAX;
    wide.email = email;
    wide.status = fate::unknown;
    wide.code = code;
    wide.error = error;
    wide.attempts = UINT32_MAX;
    wide.message_id = id;
    wide.ambiguous = true;
    append_results_line(out, wide);
    std::string want = "x{\"row\":18446744073709551615,\"line\":18446744073709551615,\"email\":\"";
    for (int i = 0; i < 40; ++i) want += "\\u0001";
    want += "\",\"status\":\"unknown\",\"code\":\"";
    for (int i = 0; i < 30; ++i) want += "\\u001F";
    want += "\",\"error\":\"";
    for (int i = 0; i < 300; ++i) want += "\\\"";
    want += "\",\"attempts\":4294967295,\"message_id\":\"";
    for (int i = 0; i < 50; ++i) want += "\\u0002";
    want += "\",\"ambiguous\":true}\n";
    EXPECT_EQ(out, want);
}

TEST_F(LedgerTest, FreshJobWritesOneLinePerRowAndReopensFinished) {
    ledger_state state;
    {
        auto l = open_ledger(state);
        ASSERT_TRUE(l);
        EXPECT_TRUE(state.fresh);
        const std::vector<std::uint64_t> rows{1, 2, 3};
        ASSERT_FALSE(l->dispatch(1, 1, rows));
        std::vector<row_outcome> out{accepted(1), accepted(2), accepted(3)};
        out[1].status = fate::rejected;
        out[1].code = "InvalidAddress";
        ASSERT_FALSE(l->decide(out));
        // Deciding a row again is ignored: never two lines for one row.
        ASSERT_FALSE(l->decide(std::vector<row_outcome>{accepted(2)}));
        EXPECT_EQ(l->duplicate_decisions(), 1u);
        ASSERT_FALSE(l->finish());
    }
    const auto lines = lines_of(options_.results);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_NE(lines[1].find("\"status\":\"rejected\""), std::string::npos);

    auto l = open_ledger(state);
    ASSERT_TRUE(l);
    EXPECT_FALSE(state.fresh);
    EXPECT_TRUE(state.finished);
    EXPECT_TRUE(state.is_decided(1) && state.is_decided(2) && state.is_decided(3));
    EXPECT_FALSE(state.is_decided(4));
    EXPECT_EQ(state.counts[static_cast<int>(fate::accepted)], 2u);
    EXPECT_EQ(state.counts[static_cast<int>(fate::rejected)], 1u);
    EXPECT_TRUE(state.in_doubt.empty());
    l.reset();
    EXPECT_EQ(lines_of(options_.results).size(), 3u);
}

TEST_F(LedgerTest, KilledProcessResumesWithDispatchedRowsInDoubt) {
    // A child process records, then dies without any cleanup (no destructor,
    // no final checkpoint, no fsync): as after SIGKILL.
    options_.sync_interval = std::chrono::hours(1);  // no background checkpoint
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ledger_state s;
        auto l = ledger::open(options_, fp_, s);
        if (!l) _exit(1);
        std::vector<std::uint64_t> rows{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        if ((*l)->dispatch(1, 1, rows)) _exit(2);
        for (std::uint64_t r = 1; r <= 5; ++r)
            if ((*l)->decide(std::vector<row_outcome>{accepted(r)})) _exit(3);
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);

    ASSERT_EQ(lines_of(options_.results).size(), 5u);
    ledger_state state;
    auto l = open_ledger(state);
    ASSERT_TRUE(l);
    EXPECT_FALSE(state.finished);
    for (std::uint64_t r = 1; r <= 5; ++r) EXPECT_TRUE(state.is_decided(r)) << r;
    EXPECT_EQ(state.in_doubt, (std::vector<std::uint64_t>{6, 7, 8, 9, 10}));
    // Rows 4 and 5 came after the last checkpoint: they are re-appended to
    // the truncated results file, exactly once each.
    l.reset();
    const auto lines = lines_of(options_.results);
    ASSERT_EQ(lines.size(), 5u);
    for (std::uint64_t r = 1; r <= 5; ++r)
        EXPECT_EQ(lines[r - 1].rfind("{\"row\":" + std::to_string(r) + ",", 0), 0u) << lines[r - 1];
}

TEST_F(LedgerTest, AResultsLineWithoutItsRecordDecidesItsRowOnce) {
    ledger_state state;
    {
        auto l = open_ledger(state);
        ASSERT_FALSE(l->decide(std::vector<row_outcome>{accepted(1)}));
        ASSERT_FALSE(l->sync());
    }
    // A results line was written, and the process died before the journal
    // record that follows it (lines go first): the line stands.
    {
        std::ofstream(options_.results, std::ios::app)
            << R"({"row":2,"line":3,"email":"x@y.io","status":"rejected","code":"InvalidAddress"})"
            << "\n";
    }
    auto l = open_ledger(state);
    EXPECT_TRUE(state.is_decided(1));
    EXPECT_TRUE(state.is_decided(2));
    EXPECT_EQ(state.counts[static_cast<int>(fate::rejected)], 1u);
    l.reset();
    EXPECT_EQ(lines_of(options_.results).size(), 2u);
    // And it is not counted twice by the next recovery either.
    l = open_ledger(state);
    EXPECT_EQ(state.counts[static_cast<int>(fate::accepted)], 1u);
    EXPECT_EQ(state.counts[static_cast<int>(fate::rejected)], 1u);
    l.reset();
    EXPECT_EQ(lines_of(options_.results).size(), 2u);
}

TEST_F(LedgerTest, AcceptedRowsWhoseLinesWereLostAreInDoubtAndOthersGetTheirLinesBack) {
    // A power cut after a dispatch made the syncer fsync the journal (the
    // A and F records with it) but before the results file's next fsync:
    // the records reached the disk, the lines after the checkpoint did not.
    test::power_cut_io io;
    options_.io = &io;
    options_.sync_interval = std::chrono::hours(1);  // no periodic results fsync
    ledger_state state;
    {
        auto l = open_ledger(state);
        ASSERT_FALSE(l->dispatch(1, 1, std::vector<std::uint64_t>{1, 2, 3, 4}));
        ASSERT_FALSE(l->decide(std::vector<row_outcome>{accepted(1)}));
        ASSERT_FALSE(l->sync());
        std::vector<row_outcome> later{accepted(2), accepted(3), accepted(4)};
        later[1].ambiguous = true;
        later[2].status = fate::rejected;
        later[2].code = "InvalidAddress";
        ASSERT_FALSE(l->decide(later));
        dispatch_batch next;
        next.add(2, 1, std::vector<std::uint64_t>{5});
        const auto ticket = l->dispatch(next);
        ASSERT_TRUE(ticket);
        for (int i = 0; i < 2000 && l->durable_position() < *ticket; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));  // bounded: 2 s
        ASSERT_GE(l->durable_position(), *ticket);
        io.cut();
    }
    io.power_off();
    const auto journal = slurp(options_.journal);
    EXPECT_NE(journal.find(" A 1 2-3 ~ 3\n"), std::string::npos) << journal;
    EXPECT_EQ(lines_of(options_.results).size(), 1u);

    options_.io = nullptr;
    auto l = open_ledger(state);
    EXPECT_TRUE(state.is_decided(1));
    EXPECT_FALSE(state.is_decided(2));
    EXPECT_FALSE(state.is_decided(3));
    EXPECT_TRUE(state.is_decided(4));  // its F record holds the whole line
    EXPECT_EQ(state.in_doubt, (std::vector<std::uint64_t>{2, 3, 5}));
    EXPECT_EQ(state.counts[static_cast<int>(fate::accepted)], 1u);
    EXPECT_EQ(state.counts[static_cast<int>(fate::rejected)], 1u);
    EXPECT_EQ(state.ambiguous, 0u);
    l.reset();
    const auto lines = lines_of(options_.results);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1].rfind("{\"row\":4,", 0), 0u) << lines[1];

    // That resume stopped before it sent rows 2 and 3 again, and its
    // checkpoint covers their A record, whose lines are still missing: the
    // L record before it keeps them in doubt for the next recovery (which
    // counted them accepted, with no line).
    const auto after = slurp(options_.journal);
    const auto a_record = after.find(" A 1 2-3 ~ 3\n");
    ASSERT_NE(a_record, std::string::npos) << after;
    ASSERT_NE(after.find(" C ", a_record), std::string::npos) << after;
    EXPECT_NE(after.find(" L 2-3 ~ 3\n", a_record), std::string::npos) << after;
    ledger_state again;
    l = open_ledger(again);
    EXPECT_FALSE(again.is_decided(2));
    EXPECT_FALSE(again.is_decided(3));
    EXPECT_EQ(again.in_doubt, (std::vector<std::uint64_t>{2, 3, 5}));
    EXPECT_EQ(again.counts[static_cast<int>(fate::accepted)], 1u);
    EXPECT_EQ(again.ambiguous, 0u);
    l.reset();
    EXPECT_EQ(lines_of(options_.results).size(), 2u);
}

TEST_F(LedgerTest, AcceptedRowsCostTheJournalAFewBytes) {
    ledger_state state;
    auto l = open_ledger(state);
    const auto before = fs::file_size(options_.journal);
    std::vector<row_outcome> out;
    std::vector<std::uint64_t> rows;
    for (std::uint64_t r = 1000; r < 1500; ++r) {
        out.push_back(accepted(r));
        rows.push_back(r);
    }
    ASSERT_FALSE(l->dispatch(1, 1, rows));
    ASSERT_FALSE(l->decide(out));
    const auto added = fs::file_size(options_.journal) - before;
    EXPECT_LT(added, 64u) << slurp(options_.journal);  // D and A, each one run
    EXPECT_EQ(lines_of(options_.results).size(), 500u);
}

TEST_F(LedgerTest, TornLastRecordIsCutOff) {
    ledger_state state;
    {
        auto l = open_ledger(state);
        ASSERT_FALSE(l->decide(std::vector<row_outcome>{accepted(1), accepted(2)}));
    }
    const auto good = fs::file_size(options_.journal);
    std::ofstream(options_.journal, std::ios::app) << "0badc0de F {\"row\":3,\"li";
    auto l = open_ledger(state);
    ASSERT_TRUE(l);
    EXPECT_GT(state.journal_bytes_dropped, 0u);
    EXPECT_TRUE(state.is_decided(2));
    EXPECT_FALSE(state.is_decided(3));
    l.reset();
    EXPECT_GE(fs::file_size(options_.journal), good);
    EXPECT_EQ(lines_of(options_.results).size(), 2u);
}

TEST_F(LedgerTest, DamageBeforeTheEndIsRefused) {
    ledger_state state;
    {
        auto l = open_ledger(state);
        ASSERT_FALSE(l->decide(std::vector<row_outcome>{accepted(1)}));
        ASSERT_FALSE(l->decide(std::vector<row_outcome>{accepted(2)}));
    }
    std::string j = slurp(options_.journal);
    const auto at = j.find(" A 1 1\n");
    ASSERT_NE(at, std::string::npos) << j;
    j[at + 5] = '7';  // the CRC no longer matches, and whole records follow
    std::ofstream(options_.journal, std::ios::binary | std::ios::trunc) << j;
    const std::string results = slurp(options_.results);
    auto l = ledger::open(options_, fp_, state);
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error(), ledger_errc::corrupt_journal);
    // A refused journal is left as it was, and so are the results.
    EXPECT_EQ(slurp(options_.journal), j);
    EXPECT_EQ(slurp(options_.results), results);
}

// The header's fingerprint is read back as JSON: a value with a quote or a
// backslash (a path, say) does not shift the parts after it.
TEST_F(LedgerTest, AFingerprintWithQuotesNamesOnlyWhatDiffers) {
    ledger_state state;
    fp_.parts["recipients"] = R"(C:\lists\"spring" list.csv)";
    { auto l = open_ledger(state); }
    job_fingerprint other = fp_;
    other.parts["templates"] = "ffff";
    auto l = ledger::open(options_, other, state);
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error(), ledger_errc::other_campaign);
    EXPECT_EQ(state.detail, "templates");
}

TEST_F(LedgerTest, AnotherCampaignsJournalIsRefusedNamingTheDifference) {
    ledger_state state;
    {
        auto l = open_ledger(state);
        ASSERT_FALSE(l->decide(std::vector<row_outcome>{accepted(1), accepted(2)}));
        ASSERT_FALSE(l->finish());
    }
    const std::string journal = slurp(options_.journal);
    const std::string results = slurp(options_.results);
    job_fingerprint other = fp_;
    other.parts["templates"] = "ffff";
    {
        auto l = ledger::open(options_, other, state);
        ASSERT_FALSE(l);
        EXPECT_EQ(l.error(), ledger_errc::other_campaign);
        EXPECT_EQ(state.detail, "templates");
    }
    // Refusing writes nothing: the campaign on record opens as it was.
    EXPECT_EQ(slurp(options_.journal), journal);
    EXPECT_EQ(slurp(options_.results), results);
    auto l = open_ledger(state);
    EXPECT_TRUE(state.finished);
    EXPECT_EQ(state.counts[static_cast<int>(fate::accepted)], 2u);
    l.reset();
    EXPECT_EQ(lines_of(options_.results).size(), 2u);
}

}  // namespace
}  // namespace salvo::engine

namespace salvo::engine {
namespace {

// The fix after a 401 is often server_id: a resume may change it while no
// row can have been accepted under the old one, and the journal records the
// change; a request without an outcome (maybe accepted) refuses it.
TEST_F(LedgerTest, ServerIdChangesOnAResumeOnlyWhileNothingCanHaveBeenAccepted) {
    ledger_state state;
    fp_.parts["server_id"] = "4242";
    {
        auto l = open_ledger(state);
        const std::vector<std::uint64_t> rows{1, 2};
        ASSERT_FALSE(l->dispatch(1, 1, rows));
        ASSERT_FALSE(l->release(rows));  // the 401: released, not sent
    }
    fp_.parts["server_id"] = "777";
    {
        auto l = open_ledger(state);
        EXPECT_EQ(state.server_id_was, "4242");
        const std::vector<std::uint64_t> rows{1};
        ASSERT_FALSE(l->dispatch(2, 1, rows));  // no outcome: maybe accepted
    }
    {
        auto l = open_ledger(state);  // the journal holds the change
        EXPECT_EQ(state.server_id_was, "");
        EXPECT_EQ(state.in_doubt, std::vector<std::uint64_t>{1});
    }
    const std::string journal = slurp(options_.journal);
    fp_.parts["server_id"] = "778";
    auto l = ledger::open(options_, fp_, state);
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error(), ledger_errc::other_campaign);
    EXPECT_EQ(state.detail, "server_id");
    EXPECT_EQ(state.recorded.parts["server_id"], "777");
    EXPECT_EQ(state.unsettled, 1u);
    EXPECT_EQ(slurp(options_.journal), journal);  // refusing writes nothing
}

TEST_F(LedgerTest, ReleasedRowsAreNotInDoubt) {
    ledger_state state;
    {
        auto l = open_ledger(state);
        const std::vector<std::uint64_t> rows{1, 2, 3};
        ASSERT_FALSE(l->dispatch(1, 1, rows));
        const std::vector<std::uint64_t> not_sent{2, 3};
        ASSERT_FALSE(l->release(not_sent));
        ASSERT_FALSE(l->decide(std::vector<row_outcome>{accepted(1)}));
    }
    auto l = open_ledger(state);
    EXPECT_TRUE(state.in_doubt.empty());
    EXPECT_FALSE(state.is_decided(2));
}

// A finished job with failed, unknown and ambiguous rows: rows 1-10 are
// dispatched; 2 and 5 failed, 7 is unknown, 9 was accepted as ambiguous
// and 4 failed after being sent ambiguous.
class ReopenTest : public LedgerTest {
  protected:
    void SetUp() override {
        LedgerTest::SetUp();
        ledger_state state;
        auto l = open_ledger(state);
        ASSERT_TRUE(l);
        std::vector<std::uint64_t> rows;
        std::vector<row_outcome> out;
        for (std::uint64_t r = 1; r <= 10; ++r) {
            rows.push_back(r);
            out.push_back(accepted(r));
        }
        ASSERT_FALSE(l->dispatch(1, 1, rows));
        out[1].status = fate::failed;
        out[1].error = "HTTP 503";
        out[4].status = fate::failed;
        out[4].error = "HTTP 503";
        out[6].status = fate::unknown;
        out[6].error = "maybe delivered";
        out[8].ambiguous = true;
        out[3].status = fate::failed;
        out[3].ambiguous = true;
        ASSERT_FALSE(l->decide(out));
        ASSERT_FALSE(l->finish());
    }

    // row -> status, from the results file; fails on a second line for a row.
    std::map<std::uint64_t, std::string> statuses() {
        std::map<std::uint64_t, std::string> m;
        for (const auto& line : lines_of(options_.results)) {
            const auto row = std::stoull(line.substr(7));
            const auto at = line.find("\"status\":\"") + 10;
            EXPECT_TRUE(m.emplace(row, line.substr(at, line.find('"', at) - at)).second)
                << "two lines for row " << row;
        }
        return m;
    }

    // reopen_failed(), then every journal record after its last R dropped:
    // killed before the checkpoint that follows the rebuild.
    void reopen_and_drop_the_checkpoint() {
        {
            ledger_state state;
            auto l = open_ledger(state);
            ASSERT_TRUE(l->reopen_failed(state));
        }
        std::string journal = slurp(options_.journal);
        const auto r = journal.rfind(" R ");
        ASSERT_NE(r, std::string::npos);
        journal.resize(journal.find('\n', r) + 1);
        std::ofstream(options_.journal, std::ios::binary | std::ios::trunc) << journal;
    }

    // Recovery finished the reopen: rows 2, 4, 5 and 7 withdrawn, their
    // lines gone, the maybe-delivered ones (4, 7) in doubt.
    void expect_reopen_finished() {
        ledger_state state;
        auto l = open_ledger(state);
        ASSERT_TRUE(l);
        EXPECT_FALSE(state.finished);
        EXPECT_EQ(state.counts[static_cast<int>(fate::accepted)], 6u);
        EXPECT_EQ(state.counts[static_cast<int>(fate::failed)], 0u);
        EXPECT_EQ(state.counts[static_cast<int>(fate::unknown)], 0u);
        EXPECT_EQ(state.in_doubt, (std::vector<std::uint64_t>{4, 7}));
        l.reset();
        const auto s = statuses();
        EXPECT_EQ(s.size(), 6u);
        EXPECT_FALSE(s.count(2) || s.count(4) || s.count(5) || s.count(7));
    }
};

TEST_F(ReopenTest, FailedAndUnknownRowsLoseTheirLinesAndAreDecidedAgain) {
    ledger_state state;
    auto l = open_ledger(state);
    ASSERT_TRUE(state.finished);
    auto doubt = l->reopen_failed(state);
    ASSERT_TRUE(doubt) << doubt.error().message();
    // Unknown, and failed after an ambiguous send: maybe delivered.
    EXPECT_EQ(*doubt, (std::vector<std::uint64_t>{4, 7}));
    EXPECT_EQ(state.reopened, 4u);
    EXPECT_FALSE(state.finished);
    EXPECT_FALSE(state.is_decided(2) || state.is_decided(4) || state.is_decided(5) ||
                 state.is_decided(7));
    EXPECT_TRUE(state.is_decided(9));
    EXPECT_EQ(state.counts[static_cast<int>(fate::failed)], 0u);
    EXPECT_EQ(state.counts[static_cast<int>(fate::accepted)], 6u);
    EXPECT_EQ(state.ambiguous, 1u);  // row 9's line stays
    auto s = statuses();
    EXPECT_EQ(s.size(), 6u);
    EXPECT_FALSE(s.count(2) || s.count(4) || s.count(5) || s.count(7));

    std::vector<row_outcome> again{accepted(2), accepted(4), accepted(5), accepted(7)};
    again[1].ambiguous = again[3].ambiguous = true;
    ASSERT_FALSE(l->dispatch(2, 1, std::vector<std::uint64_t>{2, 4, 5, 7}));
    ASSERT_FALSE(l->decide(again));
    ASSERT_FALSE(l->finish());
    l.reset();

    s = statuses();
    ASSERT_EQ(s.size(), 10u);
    for (const auto& [row, status] : s) EXPECT_EQ(status, "accepted") << row;
    // Replaying the journal agrees with the file: one fate a row.
    l = open_ledger(state);
    EXPECT_TRUE(state.finished);
    EXPECT_EQ(state.counts[static_cast<int>(fate::accepted)], 10u);
    EXPECT_EQ(state.counts[static_cast<int>(fate::failed)], 0u);
    EXPECT_EQ(state.ambiguous, 3u);
    EXPECT_TRUE(state.in_doubt.empty());
    l.reset();
    EXPECT_EQ(statuses().size(), 10u);
}

TEST_F(ReopenTest, NothingToReopenWritesNothing) {
    ledger_state state;
    {
        auto l = open_ledger(state);
        ASSERT_TRUE(l->reopen_failed(state));
        ASSERT_FALSE(l->decide(
            std::vector<row_outcome>{accepted(2), accepted(4), accepted(5), accepted(7)}));
        ASSERT_FALSE(l->finish());
    }
    const auto journal = slurp(options_.journal);
    auto l = open_ledger(state);
    auto doubt = l->reopen_failed(state);
    ASSERT_TRUE(doubt);
    EXPECT_TRUE(doubt->empty());
    EXPECT_EQ(state.reopened, 0u);
    EXPECT_TRUE(state.finished);
    l.reset();
    // Only the checkpoint that every open writes was added.
    const auto after = slurp(options_.journal);
    EXPECT_EQ(after.substr(0, journal.size()), journal);
    EXPECT_EQ(after.find(" R ", journal.size()), std::string::npos);
}

// Killed between the R records and the rename: the results file still has
// the withdrawn lines, and the journal has no checkpoint after R. Recovery
// rebuilds the file; rows that may have been delivered stay in doubt.
TEST_F(ReopenTest, AReopenCutShortIsFinishedOnRecovery) {
    const auto old_results = slurp(options_.results);
    reopen_and_drop_the_checkpoint();
    std::ofstream(options_.results, std::ios::binary | std::ios::trunc)
        << old_results;  // no rename
    ASSERT_EQ(statuses().size(), 10u);
    expect_reopen_finished();
}

// Killed after the rename, before the checkpoint that follows it: the
// results file in place is the rebuild, shorter than the last checkpoint
// says, and the journal ends with R. Recovery takes the file as it is
// (it refused it as "shorter than the journal's last checkpoint", and the
// campaign could not be resumed).
TEST_F(ReopenTest, AReopenCutShortAfterItsRenameIsFinishedOnRecovery) {
    reopen_and_drop_the_checkpoint();
    ASSERT_EQ(statuses().size(), 6u);
    expect_reopen_finished();
}

}  // namespace
}  // namespace salvo::engine
