#pragma once
// The accounting every reliability test checks, from the results file, the
// `--report` JSON and the emulator's record(s) together.
#include "support/salvo_campaign.hpp"
#include "support/salvo_files.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace salvo::test {

struct accounting_expectations {
    bool finished = true;  ///< every row decided (no pending)
    bool hold = false;     ///< retry.ambiguous = hold: nothing re-sent
    /// Under hold: every unknown row was delivered exactly once (the fault
    /// records before it cuts the answer), not merely at most once.
    bool unknown_delivered_once = false;
};

struct accounting {
    std::map<std::string, std::uint64_t> by_status;
    std::uint64_t ambiguous_lines = 0;
    std::map<std::uint64_t, int> deliveries;  ///< row → emails recorded
};

// One line per decided row, and each line names its row's address.
inline void check_lines(const salvo_campaign& c, const std::vector<result_line>& lines,
                        accounting& a) {
    std::set<std::uint64_t> seen;
    for (const auto& l : lines) {
        EXPECT_TRUE(l.row >= 1 && l.row <= c.rows()) << "row " << l.row << " out of range";
        EXPECT_TRUE(seen.insert(l.row).second) << "row " << l.row << " has two lines";
        EXPECT_EQ(l.email, salvo_campaign::email_of(l.row)) << "row " << l.row;
        ++a.by_status[l.status];
        if (l.ambiguous) ++a.ambiguous_lines;
    }
}

// The report's counts equal the results file's.
inline void check_report(const send_report& r, const std::vector<result_line>& lines,
                         const accounting& a) {
    for (const auto& f : fate_names()) {
        const auto it = a.by_status.find(f);
        EXPECT_EQ(r.count(f), it == a.by_status.end() ? 0u : it->second) << "report count " << f;
    }
    std::uint64_t known = 0;
    for (const auto& f : fate_names()) known += r.count(f);
    EXPECT_EQ(known, lines.size()) << "a status outside the fates in the results file";
    EXPECT_EQ(r.ambiguous, a.ambiguous_lines) << "report ambiguous";
    EXPECT_EQ(r.pending, r.rows_read - lines.size()) << "pending = rows read - decided";
}

// Delivered (recorded) rows against decided rows; `records` may hold several
// emulators' records (one per run).
inline accounting check_accounting(const salvo_campaign& c, const std::vector<result_line>& lines,
                                   const send_report& r,
                                   const std::vector<std::vector<recorded_email>>& records,
                                   const accounting_expectations& x) {
    accounting a;
    check_lines(c, lines, a);
    check_report(r, lines, a);
    if (x.finished) {
        EXPECT_EQ(r.status, "finished") << r.stop_detail;
        EXPECT_EQ(lines.size(), c.rows()) << "rows without a line";
        EXPECT_EQ(r.rows_read, c.rows());
        EXPECT_EQ(r.pending, 0u);
    }
    // Every row is valid and distinct.
    EXPECT_EQ(r.count("invalid") + r.count("duplicate") + r.count("suppressed"), 0u);

    for (const auto& rec : records)
        for (const auto& e : rec) {
            const auto row = c.row_of(e.to);
            EXPECT_TRUE(row) << "delivered to an address no row has: " << e.to;
            if (row) ++a.deliveries[*row];
        }
    std::map<std::uint64_t, const result_line*> by_row;
    for (const auto& l : lines) by_row[l.row] = &l;

    for (const auto& l : lines) {
        const auto d = a.deliveries.find(l.row);
        const int n = d == a.deliveries.end() ? 0 : d->second;
        if (l.status == "accepted") {
            EXPECT_GE(n, 1) << "row " << l.row << " accepted but never delivered";
            if (!l.ambiguous) {
                EXPECT_EQ(n, 1) << "row " << l.row << " delivered " << n << " times";
            }
        } else if (l.status == "rejected") {
            EXPECT_FALSE(l.code.empty()) << "row " << l.row << " rejected without a code";
        } else if (l.status == "failed") {
            EXPECT_FALSE(l.error.empty()) << "row " << l.row << " failed without an error";
        } else if (l.status == "unknown") {
            EXPECT_FALSE(l.error.empty()) << "row " << l.row << " unknown without a reason";
            if (x.unknown_delivered_once) {
                EXPECT_EQ(n, 1) << "unknown row " << l.row << " delivered " << n << " times";
            } else {
                EXPECT_LE(n, 1) << "unknown row " << l.row << " delivered " << n << " times";
            }
        }
        if (x.hold) {
            EXPECT_FALSE(l.ambiguous) << "row " << l.row << " re-sent under hold";
        }
    }
    if (x.hold) {
        EXPECT_EQ(r.ambiguous, 0u);
    }
    // Delivered rows are accepted, or marked ambiguous, or unknown.
    for (const auto& [row, n] : a.deliveries) {
        const auto it = by_row.find(row);
        if (it == by_row.end()) {
            ADD_FAILURE() << "row " << row << " delivered " << n << " times but has no line";
            continue;
        }
        const auto& l = *it->second;
        EXPECT_TRUE(l.status == "accepted" || l.ambiguous || l.status == "unknown")
            << "row " << row << " delivered " << n << " times but is " << l.status;
    }
    return a;
}

}  // namespace salvo::test
