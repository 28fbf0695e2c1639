// `salvo shards report`: the N shards of a campaign checked together. Each
// shard's results file says which rows it decided; the recipients file says
// how many rows there are. Every row must be decided in exactly one shard.
#include "commands.hpp"

#include <salvo/engine/campaign.hpp>
#include <salvo/engine/outcome.hpp>

#include <fmt/format.h>
#include <simdjson.h>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <system_error>

namespace salvo::cli {
namespace {

namespace fs = std::filesystem;

// Rows listed by number in the output, per kind; the rest are counted.
constexpr std::size_t shown_rows = 20;

struct shard_totals {
    std::string shard;
    fs::path results;
    bool present = false;
    std::uint64_t rows = 0;
    std::array<std::uint64_t, engine::fate_count> fates{};
    std::uint64_t ambiguous = 0;
    std::uint64_t unreadable = 0;  // lines that are not results lines (a torn end)
};

// Rows by number: a bit each for "seen" and "seen twice", grown as needed.
struct row_marks {
    std::vector<bool> seen, doubled;
    std::vector<std::uint64_t> doubled_rows;  // first `shown_rows`
    std::uint64_t doubled_count = 0;

    void mark(std::uint64_t row) {
        if (row >= seen.size()) {
            seen.resize(row + 1 + row / 4);
            doubled.resize(seen.size());
        }
        if (!seen[row]) {
            seen[row] = true;
            return;
        }
        if (!doubled[row]) {
            doubled[row] = true;
            ++doubled_count;
            if (doubled_rows.size() < shown_rows) doubled_rows.push_back(row);
        }
    }
};

// Reads one shard's results file into `t` and `marks`. False (with the
// message printed) when the file exists but cannot be read.
bool read_shard(shard_totals& t, row_marks& marks) {
    std::error_code ec;
    if (!fs::exists(t.results, ec)) return true;  // counted as missing rows
    std::ifstream in(t.results, std::ios::binary);
    if (!in) {
        fmt::print(stderr, "salvo shards report: cannot read {}: {}\n", t.results.string(),
                   std::strerror(errno));
        return false;
    }
    t.present = true;
    simdjson::dom::parser parser;
    std::string line;
    std::uint64_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.empty()) continue;
        simdjson::dom::object obj;
        std::uint64_t row = 0;
        std::string_view status;
        if (parser.parse(line).get(obj) != simdjson::SUCCESS ||
            obj["row"].get(row) != simdjson::SUCCESS ||
            obj["status"].get(status) != simdjson::SUCCESS) {
            if (t.unreadable++ == 0)
                fmt::print(stderr,
                           "salvo shards report: {}: line {} is not a results line (a shard "
                           "stopped mid-write? running it again repairs the file)\n",
                           t.results.string(), line_no);
            continue;
        }
        const auto f = engine::parse_fate(status);
        if (!f) {
            ++t.unreadable;
            continue;
        }
        ++t.rows;
        ++t.fates[static_cast<std::size_t>(*f)];
        bool ambiguous = false;
        if (obj["ambiguous"].get(ambiguous) == simdjson::SUCCESS && ambiguous) ++t.ambiguous;
        marks.mark(row);
    }
    return true;
}

// The number of rows of the campaign's input (rows are numbered from 1).
std::optional<std::uint64_t> count_input_rows(const engine::job_config& cfg) {
    auto src = engine::open_recipients(cfg, 1u << 20);
    if (!src) {
        fmt::print(stderr, "salvo shards report: {}\n", src.error().message);
        return std::nullopt;
    }
    engine::chunk c;
    std::uint64_t rows = 0;
    for (;;) {
        auto more = (*src)->next_chunk(c);
        if (!more) {
            fmt::print(stderr, "salvo shards report: {}\n", more.error().message);
            return std::nullopt;
        }
        if (c.size() != 0) rows = std::max(rows, c.info(c.size() - 1).row);
        if (!*more) break;
    }
    return rows;
}

std::string row_list(const std::vector<std::uint64_t>& rows, std::uint64_t count) {
    std::string out;
    for (const auto r : rows) out += (out.empty() ? "" : ", ") + std::to_string(r);
    if (count > rows.size()) out += fmt::format(" … ({} more)", count - rows.size());
    return out;
}

}  // namespace

int run_shards_report(const shards_report_args& a) {
    auto cfg = engine::load_job_file(a.job_file, a.sets);
    if (!cfg) {
        fmt::print(stderr, "salvo shards report: {}\n", cfg.error().message);
        return exit_usage;
    }
    if (cfg->shard.active()) {
        fmt::print(stderr,
                   "salvo shards report: {} sets \"shard\": \"{}\", so it names one shard; give "
                   "the campaign's job file without the key (the shards take it from --shard or "
                   "--shard-count)\n",
                   a.job_file.string(), cfg->shard.text());
        return exit_usage;
    }
    if (cfg->recipients.path == "-") {
        fmt::print(stderr,
                   "salvo shards report: the recipients are standard input, which cannot be read "
                   "again to count the rows; shard a campaign from a file\n");
        return exit_usage;
    }
    const std::uint32_t n = a.of;

    std::vector<shard_totals> shards(n);
    row_marks marks;
    for (std::uint32_t k = 0; k < n; ++k) {
        shards[k].shard = engine::shard_spec{k, n}.text();
        shards[k].results = engine::sharded_path(cfg->results, engine::shard_spec{k, n});
        if (!read_shard(shards[k], marks)) return exit_usage;
    }
    // The rows' source: for a Marketing list, shard 0's copy of it.
    engine::job_config input = *cfg;
    if (input.recipients.marketing_list != 0) engine::apply_shard(input, engine::shard_spec{0, n});
    const auto total = count_input_rows(input);
    if (!total) return exit_usage;

    std::array<std::uint64_t, engine::fate_count> fates{};
    std::uint64_t decided = 0, ambiguous = 0, unreadable = 0;
    for (const auto& s : shards) {
        for (std::size_t i = 0; i < engine::fate_count; ++i) fates[i] += s.fates[i];
        decided += s.rows;
        ambiguous += s.ambiguous;
        unreadable += s.unreadable;
    }
    std::vector<std::uint64_t> missing_rows, foreign_rows;
    std::uint64_t missing = 0, foreign = 0;
    for (std::uint64_t row = 1; row <= *total; ++row) {
        if (row < marks.seen.size() && marks.seen[row]) continue;
        if (missing++ < shown_rows) missing_rows.push_back(row);
    }
    for (std::uint64_t row = *total + 1; row < marks.seen.size(); ++row) {
        if (!marks.seen[row]) continue;
        if (foreign++ < shown_rows) foreign_rows.push_back(row);
    }
    if (marks.seen.size() > 0 && marks.seen[0] && foreign++ < shown_rows)
        foreign_rows.insert(foreign_rows.begin(), 0);
    const bool complete = missing == 0 && marks.doubled_count == 0 && foreign == 0;
    const std::uint64_t bad = fates[static_cast<std::size_t>(engine::fate::rejected)] +
                              fates[static_cast<std::size_t>(engine::fate::failed)] +
                              fates[static_cast<std::size_t>(engine::fate::unknown)];

    if (a.json) {
        boost::json::object o;
        o["shards"] = n;
        o["rows"] = *total;
        o["decided"] = decided;
        for (std::size_t i = 0; i < engine::fate_count; ++i)
            o[engine::to_string(static_cast<engine::fate>(i))] = fates[i];
        o["ambiguous"] = ambiguous;
        o["complete"] = complete;
        o["missing"] = missing;
        o["missing_rows"] = boost::json::value_from(missing_rows);
        o["doubled"] = marks.doubled_count;
        o["doubled_rows"] = boost::json::value_from(marks.doubled_rows);
        o["not_in_input"] = foreign;
        o["unreadable_lines"] = unreadable;
        boost::json::array per;
        for (const auto& s : shards) {
            boost::json::object so;
            so["shard"] = s.shard;
            so["results"] = s.results.string();
            so["present"] = s.present;
            so["rows"] = s.rows;
            for (std::size_t i = 0; i < engine::fate_count; ++i)
                so[engine::to_string(static_cast<engine::fate>(i))] = s.fates[i];
            per.push_back(std::move(so));
        }
        o["per_shard"] = std::move(per);
        fmt::print("{}\n", boost::json::serialize(o));
    } else {
        fmt::print("{:<8}{:>12}", "shard", "rows");
        for (std::size_t i = 0; i < engine::fate_count; ++i)
            fmt::print("{:>12}", engine::to_string(static_cast<engine::fate>(i)));
        fmt::print("\n");
        const auto line = [](std::string_view name, std::uint64_t rows, const auto& f) {
            fmt::print("{:<8}{:>12}", name, rows);
            for (const auto v : f) fmt::print("{:>12}", v);
            fmt::print("\n");
        };
        for (const auto& s : shards) line(s.shard, s.rows, s.fates);
        line("total", decided, fates);
        fmt::print("input rows {}, decided {}, ambiguous {}\n", *total, decided, ambiguous);
    }
    for (const auto& s : shards)
        if (!s.present)
            fmt::print(stderr,
                       "salvo shards report: shard {}: no results file at {} (not run yet?)\n",
                       s.shard, s.results.string());
    if (missing != 0)
        fmt::print(stderr,
                   "salvo shards report: {} row(s) decided in no shard: {}; run the shards again "
                   "(each resumes) until they finish\n",
                   missing, row_list(missing_rows, missing));
    if (marks.doubled_count != 0)
        fmt::print(stderr,
                   "salvo shards report: {} row(s) decided in more than one shard: {}; were the "
                   "shards run with different N or a changed recipients file?\n",
                   marks.doubled_count, row_list(marks.doubled_rows, marks.doubled_count));
    if (foreign != 0)
        fmt::print(stderr,
                   "salvo shards report: {} row(s) in the results are not in {} ({} rows): {}; "
                   "the results belong to another input\n",
                   foreign, input.recipients.path.string(), *total,
                   row_list(foreign_rows, foreign));
    if (!complete) return exit_some;
    if (unreadable != 0) return exit_some;
    return bad != 0 ? exit_some : exit_ok;
}

}  // namespace salvo::cli
