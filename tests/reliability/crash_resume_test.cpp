// Crash and resume with the real binaries, in each merge mode: one campaign
// of SALVO_CRASH_ROWS rows (50 000; fewer under sanitizers) against one
// emulator that injects 503s and maybe-delivered resets, killed with SIGKILL
// at 10 seeded decided-row counts and stopped once with SIGINT, resumed each
// time with the same command. Between runs the journal is damaged: a byte in
// the middle (refused, exit 2, nothing sent) and, twice, a torn last record
// (cut and recovered). At the end every row has exactly one line and the
// record holds each accepted row once, plus only rows marked ambiguous.
//
// Not repeated here: the journal's framing at unit level
// (tests/engine/ledger_test.cpp: TornLastRecordIsCutOff,
// DamageBeforeTheEndIsRefused), in-process kills through the embedding API
// (tests/engine/job_test.cpp: KilledJobsResumeWithoutLosingOrDuplicatingRows)
// and a plain SIGINT-then-resume (tests/cli/cli_scenarios.sh sigint_resume).
#include "accounting.hpp"
#include "run_send.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace salvo::test {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t crash_rows = SALVO_CRASH_ROWS;

// The journal's records are lines `<crc32 hex> <kind> …`.
struct journal_record {
    std::size_t offset = 0;  ///< where the line starts
    std::size_t size = 0;    ///< with its newline
    char kind = 0;
};

std::vector<journal_record> journal_records(const std::string& j) {
    std::vector<journal_record> out;
    std::size_t at = 0;
    while (at < j.size()) {
        const auto nl = j.find('\n', at);
        if (nl == std::string::npos) break;
        journal_record r;
        r.offset = at;
        r.size = nl + 1 - at;
        r.kind = r.size > 9 ? j[at + 9] : '?';
        out.push_back(r);
        at = nl + 1;
    }
    return out;
}

void write_file(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << s;
    ASSERT_TRUE(out.good()) << p;
}

class CrashResume : public ::testing::TestWithParam<std::string> {
  protected:
    CrashResume() : campaign_(salvo_binary(), crash_rows) {}

    void SetUp() override {
        emu_ = std::make_unique<emulator_process>(emulator_process::start(
            salvo_binary(), campaign_.dir(), "emu",
            {"--fail-rate", "503:0.05", "--fault", "reset_after_body:0.01", "--seed", "3"}));
        args_ = {"--endpoint",
                 emu_->url(),
                 "--progress=none",
                 "--set",
                 "retry.base_delay_ms=5",
                 "--set",
                 "retry.max_delay_ms=50",
                 "--set",
                 "timeouts.request_ms=10000"};
        // 10 rows per request in both modes (as in the fault matrix).
        if (GetParam() == "local") {
            args_.insert(args_.end(),
                         {"--merge", "local", "--set", "limits.messages_per_request=10"});
        } else {
            args_.insert(args_.end(),
                         {"--merge", "server", "--set", "limits.recipients_per_message=5", "--set",
                          "limits.messages_per_request=2"});
        }
    }

    // Starts the command and sends `sig` once the results file has `target`
    // lines; returns how the run ended and how many lines it had then.
    std::pair<exit_status, std::uint64_t> interrupt_at(std::uint64_t target, int sig,
                                                       const std::string& tag) {
        line_counter lines(campaign_.results());
        // Signal only once this run has decided rows of its own.
        target = std::max(target, lines.update() + 1);
        auto args = args_;
        args.insert(args.end(), {"--report", (campaign_.dir() / (tag + ".report.json")).string()});
        auto child = campaign_.start_send(args, tag);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
        std::uint64_t seen = 0;
        bool sent = false;
        while (!child.try_wait() && std::chrono::steady_clock::now() < deadline) {
            seen = lines.update();
            if (seen >= target) {
                child.signal(sig);
                sent = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
        EXPECT_TRUE(sent) << tag << ": the run ended or hung before " << target
                          << " decided rows (had " << seen
                          << "): " << read_file(campaign_.dir() / (tag + ".err"));
        auto st = child.wait_for(std::chrono::minutes(1));
        if (!st) {
            ADD_FAILURE() << tag << ": did not end after signal " << sig;
            st = child.kill_and_wait();
        }
        return {*st, seen};
    }

    // A torn last record (the write a crash interrupts): cut the last fate
    // record in the middle, with what followed it (checkpoints, releases), as
    // if the run had died writing it; its row's results line is then past the
    // journal's last checkpoint. A dispatch record is never dropped: losing
    // one after its request was sent is not a torn write but lost data. If
    // one follows the last fate, tear an appended copy of that fate instead.
    void tear_journal() {
        const std::string good = read_file(campaign_.journal());
        const auto recs = journal_records(good);
        const auto last_fate =
            std::find_if(recs.rbegin(), recs.rend(), [](const journal_record& rec) {
                return rec.kind == 'F' || rec.kind == 'A';  // A: accepted rows, F: other fates
            });
        ASSERT_NE(last_fate, recs.rend());
        const bool dispatch_after = std::any_of(
            recs.rbegin(), last_fate, [](const journal_record& rec) { return rec.kind == 'D'; });
        std::string torn = good;
        if (!dispatch_after) {
            torn.resize(last_fate->offset + last_fate->size / 2);
        } else {
            torn += good.substr(last_fate->offset, last_fate->size / 2);
        }
        std::cout << "[ rows ] torn journal: " << (dispatch_after ? "appended" : "cut")
                  << " half a fate record, " << good.size() << " -> " << torn.size() << " bytes: "
                  << good.substr(last_fate->offset, std::min<std::size_t>(last_fate->size, 60))
                  << "\n";
        write_file(campaign_.journal(), torn);
    }

    send_report report_of(const std::string& tag) const {
        return read_report(campaign_.dir() / (tag + ".report.json"));
    }

    salvo_campaign campaign_;
    std::unique_ptr<emulator_process> emu_;
    std::vector<std::string> args_;
};

TEST_P(CrashResume, SeededKillsASigintAndTornJournalsLoseAndDuplicateNothing) {
    const fs::path& results = campaign_.results();
    const fs::path& journal = campaign_.journal();
    std::mt19937_64 rng(20261126);
    constexpr int rounds = 11;  // 10 SIGKILLs and, as round 6, one SIGINT
    constexpr int sigint_round = 6;
    constexpr int tear_after_kill_round = 2;  // and after the SIGINT
    for (int k = 0; k < rounds; ++k) {
        const std::uint64_t band = crash_rows / (rounds + 2);
        const std::uint64_t target = band * static_cast<std::uint64_t>(k + 1) + rng() % (band / 2);
        const std::string tag = "run" + std::to_string(k);
        const int sig = k == sigint_round ? SIGINT : SIGKILL;
        const auto [status, seen] = interrupt_at(target, sig, tag);
        std::cout << "[ rows ] " << tag << ": signal " << sig << " at " << seen << " lines (target "
                  << target << ")\n";
        if (sig == SIGKILL) {
            EXPECT_TRUE(status.killed_by(SIGKILL)) << tag << ": " << describe(status);
            if (k == tear_after_kill_round) tear_journal();
            continue;
        }
        // SIGINT: a clean stop, exit 3, and the files agree.
        EXPECT_TRUE(status.exited_with(3)) << describe(status);
        const std::string err = read_file(campaign_.dir() / (tag + ".err"));
        EXPECT_NE(err.find("SIGINT received"), std::string::npos) << err;
        const auto r = report_of(tag);
        EXPECT_EQ(r.status, "cancelled");
        const auto lines = read_results(results);
        accounting a;
        check_lines(campaign_, lines, a);
        check_report(r, lines, a);
        EXPECT_LT(lines.size(), crash_rows);
        if (HasFailure()) return;

        // A byte changed in the middle of the journal is refused, not
        // misread: exit 2, nothing sent, nothing written.
        const std::string good = read_file(journal);
        const std::string results_before = read_file(results);
        const auto records_before = read_file(emu_->record_file()).size();
        const auto recs = journal_records(good);
        ASSERT_GT(recs.size(), 10u);
        std::string damaged = good;
        const auto& mid = recs[recs.size() / 2];
        damaged[mid.offset + mid.size / 2] ^= 0x01;
        write_file(journal, damaged);
        const auto refused = campaign_.send(args_, "damaged");
        EXPECT_TRUE(refused.status.exited_with(2)) << describe(refused.status) << refused.err;
        EXPECT_NE(refused.err.find("journal"), std::string::npos) << refused.err;
        EXPECT_EQ(read_file(results), results_before) << "a refused journal changed the results";
        EXPECT_EQ(read_file(emu_->record_file()).size(), records_before) << "sent anyway";
        // A refused journal is never written to (it once got a "C 0" over a
        // record in its middle).
        EXPECT_EQ(read_file(journal), damaged) << "a refused journal was written to";
        write_file(journal, good);  // the damage undone, as an operator would

        tear_journal();
    }

    // The last run completes the campaign.
    auto args = args_;
    args.insert(args.end(), {"--report", (campaign_.dir() / "final.report.json").string()});
    const auto final_run = campaign_.send(args, "final", std::chrono::minutes(4));
    ASSERT_FALSE(final_run.timed_out) << final_run.err;
    const auto r = report_of("final");
    const std::uint64_t not_accepted = r.count("rejected") + r.count("failed") + r.count("unknown");
    EXPECT_TRUE(final_run.status.exited_with(not_accepted > 0 ? 1 : 0))
        << describe(final_run.status) << final_run.err;
    const auto counts = emu_->stop();
    const auto record = read_record(emu_->record_file());
    EXPECT_EQ(counts.emails, record.size());
    const auto lines = read_results(results);
    const auto a = check_accounting(campaign_, lines, r, {record}, {});
    EXPECT_GT(r.ambiguous, 0u) << "no row was ever in doubt: the kills and resets tested nothing";
    std::cout << "[ rows ] " << GetParam() << " final: accepted " << r.count("accepted")
              << ", failed " << r.count("failed") << ", ambiguous " << r.ambiguous << ", "
              << record.size() << " emails in " << counts.requests << " requests\n";
    (void)a;
}

INSTANTIATE_TEST_SUITE_P(Modes, CrashResume, ::testing::Values("local", "server"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace salvo::test
