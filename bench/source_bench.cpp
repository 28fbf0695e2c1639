// Recipient source throughput: CSV and NDJSON reading of a generated
// 1 M-row, 8-column file (one thread), the per-row cost of dedupe, and of
// the results line the recorder writes for each row.
// The files are generated once, lazily, in the system temp directory and
// reused by later runs.

#include <salvo/engine/outcome.hpp>
#include <salvo/engine/source.hpp>
#include <salvo/engine/validate.hpp>

#include <benchmark/benchmark.h>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int bench_rows = 1'000'000;

const char* const first_names[] = {"Ann",    "Bob",    "Carla", "Dmitri", "Eve",
                                   "Fatima", "Günter", "Hiro",  "Ines",   "José"};
const char* const last_names[] = {"Smith",    "O'Brien", "Müller", "García", "Nguyen",
                                  "Kowalski", "Rossi",   "Dubois", "Tanaka", "Okafor"};
const char* const cities[] = {"London", "Paris", "New York", "São Paulo",
                              "Berlin", "Tokyo", "Lagos",    "Sydney"};
const char* const companies[] = {"Acme Corp",        "Globex, Inc.",
                                 "Initech",          "Umbrella \"Bio\" Ltd",
                                 "Stark Industries", "Wayne Enterprises"};
const char* const plans[] = {"free", "pro", "business", "enterprise"};

struct row_values {
    std::string email, first, last, city, company, phone, date, plan;
};

row_values make_row(int i, std::mt19937& rng) {
    row_values r;
    r.first = first_names[rng() % 10];
    r.last = last_names[rng() % 10];
    r.email = "user" + std::to_string(i) + "@mail" + std::to_string(rng() % 50) + ".example.com";
    r.city = cities[rng() % 8];
    r.company = companies[rng() % 6];
    r.phone = "+1-555-" + std::to_string(1000000 + rng() % 9000000);
    r.date = "2024-" + std::to_string(10 + rng() % 3) + "-" + std::to_string(10 + rng() % 19);
    r.plan = plans[rng() % 4];
    return r;
}

std::string csv_field(const std::string& v) {
    if (v.find_first_of(",\"\n") == std::string::npos) return v;
    std::string out = "\"";
    for (char c : v) {
        out += c;
        if (c == '"') out += '"';
    }
    return out + "\"";
}

std::string json_string(const std::string& v) {
    std::string out = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

// Writes the file once per machine (by name) and returns its path and size.
const std::string& bench_file(bool ndjson) {
    static std::string paths[2];
    std::string& path = paths[ndjson ? 1 : 0];
    if (!path.empty()) return path;
    path = (std::filesystem::temp_directory_path() /
            (ndjson ? "salvo_source_bench_v1.ndjson" : "salvo_source_bench_v1.csv"))
               .string();
    std::error_code ec;
    if (std::filesystem::file_size(path, ec) > 50'000'000 && !ec) return path;
    std::string tmp = path + ".tmp" + std::to_string(::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("cannot write " + tmp);
    std::mt19937 rng(42);
    std::string buf;
    if (!ndjson) buf = "email,first_name,last_name,city,company,phone,signup_date,plan\n";
    for (int i = 0; i < bench_rows; ++i) {
        row_values r = make_row(i, rng);
        if (ndjson) {
            buf += "{\"email\":" + json_string(r.email) +
                   ",\"first_name\":" + json_string(r.first) +
                   ",\"last_name\":" + json_string(r.last) + ",\"city\":" + json_string(r.city) +
                   ",\"company\":" + json_string(r.company) + ",\"phone\":" + json_string(r.phone) +
                   ",\"signup_date\":" + json_string(r.date) + ",\"plan\":" + json_string(r.plan) +
                   "}\n";
        } else {
            buf += r.email + ',' + r.first + ',' + csv_field(r.last) + ',' + r.city + ',' +
                   csv_field(r.company) + ',' + r.phone + ',' + r.date + ',' + r.plan + '\n';
        }
        if (buf.size() > (1 << 20)) {
            std::fwrite(buf.data(), 1, buf.size(), f);
            buf.clear();
        }
    }
    std::fwrite(buf.data(), 1, buf.size(), f);
    std::fclose(f);
    std::filesystem::rename(tmp, path);
    return path;
}

void read_file(benchmark::State& state, bool ndjson) {
    const std::string& path = bench_file(ndjson);
    const auto bytes = static_cast<std::int64_t>(std::filesystem::file_size(path));
    std::int64_t rows = 0;
    salvo::engine::chunk c;
    for (auto _ : state) {
        auto src = salvo::engine::open_source(path);
        if (!src) {
            state.SkipWithError(src.error().message.c_str());
            return;
        }
        for (;;) {
            auto more = (*src)->next_chunk(c);
            if (!more) {
                state.SkipWithError(more.error().message.c_str());
                return;
            }
            rows += static_cast<std::int64_t>(c.size());
            benchmark::DoNotOptimize(c.values(0).data());
            if (!*more) break;
        }
    }
    state.SetBytesProcessed(bytes * state.iterations());
    state.SetItemsProcessed(rows);
}

void BM_CsvSource_Read1M(benchmark::State& state) {
    read_file(state, false);
}
void BM_NdjsonSource_Read1M(benchmark::State& state) {
    read_file(state, true);
}

BENCHMARK(BM_CsvSource_Read1M)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NdjsonSource_Read1M)->Unit(benchmark::kMillisecond);

// Canonical addresses, one in ten repeating an earlier one.
const std::vector<std::string>& dedupe_input() {
    static const std::vector<std::string> input = [] {
        std::vector<std::string> v;
        std::mt19937 rng(7);
        const int n = 1 << 20;
        v.reserve(n);
        for (int i = 0; i < n; ++i) {
            int id =
                (i > 0 && rng() % 10 == 0) ? static_cast<int>(rng() % static_cast<unsigned>(i)) : i;
            v.push_back("user" + std::to_string(id) + "@mail" + std::to_string(id % 50) +
                        ".example.com");
        }
        return v;
    }();
    return input;
}

// Dedupe cost per row: a fresh set takes 1 Mi addresses (10% repeats).
void BM_Dedupe_Insert1M(benchmark::State& state) {
    const auto& input = dedupe_input();
    std::size_t bytes_per_address = 0;
    for (auto _ : state) {
        salvo::engine::address_set set;
        for (const auto& a : input) {
            auto r = set.insert(a);
            benchmark::DoNotOptimize(r);
        }
        bytes_per_address = set.memory_bytes() / set.size();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(input.size()));
    state.counters["bytes_per_address"] = static_cast<double>(bytes_per_address);
}
BENCHMARK(BM_Dedupe_Insert1M)->Unit(benchmark::kMillisecond);

// The same addresses the way the validation stage inserts them: a chunk's
// hashes first (validator::prepare), then each insert prefetching the slot
// of the address 8 places ahead. Args: addresses (all distinct but 10%),
// and whether the set was sized for them first (address_set::reserve).
void BM_Dedupe_InsertPrefetched(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    static std::vector<std::string> input;
    if (input.size() != n) {
        input.clear();
        input.reserve(n);
        std::mt19937 rng(7);
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t id = (i > 0 && rng() % 10 == 0) ? rng() % i : i;
            input.push_back("user" + std::to_string(id) + "@mail" + std::to_string(id % 50) +
                            ".example.com");
        }
    }
    constexpr std::size_t block = 4096, distance = 8;
    std::vector<std::uint64_t> hashes(block);
    for (auto _ : state) {
        salvo::engine::address_set set;
        if (state.range(1) != 0) set.reserve(n);
        for (std::size_t b = 0; b < n; b += block) {
            const std::size_t m = std::min(block, n - b);
            for (std::size_t i = 0; i < m; ++i)
                hashes[i] = salvo::engine::address_set::hash_of(input[b + i]);
            for (std::size_t i = 0; i < m; ++i) {
                if (i + distance < m) set.prefetch(hashes[i + distance]);
                auto r = set.insert(input[b + i], hashes[i]);
                benchmark::DoNotOptimize(r);
            }
        }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_Dedupe_InsertPrefetched)
    ->ArgNames({"addresses", "reserved"})
    ->Args({1 << 20, 0})
    ->Args({10'000'000, 0})
    ->Args({10'000'000, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);

// The validation stage over the first 256 Ki rows of the 1 M-row CSV, held
// in memory: prepare() then check() per row, as job_run's validate_stage
// runs them. Args: shard count (0: not sharded; else this is shard 0 of N,
// and the other shards' rows are filtered out) and dedupe (0/1). The
// filter's own cost shows as shards=0 against shards=8 with dedupe off
// (sharding then hashes every address, dedupe or not).
void BM_Validate_Shard(benchmark::State& state) {
    static std::vector<salvo::engine::chunk> chunks;
    static std::vector<salvo::engine::field> fields;
    static std::int64_t rows = 0;
    if (chunks.empty()) {
        auto src = salvo::engine::open_source(bench_file(false));
        if (!src) {
            state.SkipWithError(src.error().message.c_str());
            return;
        }
        fields = (*src)->fields();
        while (rows < (1 << 18)) {
            salvo::engine::chunk c;
            auto more = (*src)->next_chunk(c);
            if (!more || c.size() == 0) break;
            rows += static_cast<std::int64_t>(c.size());
            chunks.push_back(std::move(c));
            if (!*more) break;
        }
    }
    salvo::engine::validate_options o;
    o.shard_count = static_cast<std::uint32_t>(state.range(0));
    o.dedupe = state.range(1) != 0;
    std::string reason;
    std::int64_t kept = 0;
    for (auto _ : state) {
        auto v = salvo::engine::validator::create(fields, o);
        if (!v) {
            state.SkipWithError(v.error().message.c_str());
            return;
        }
        kept = 0;
        for (const auto& c : chunks) {
            v->prepare(c);
            for (std::size_t i = 0; i < c.size(); ++i) {
                auto f = v->check(c, i, reason);
                kept += f && *f != salvo::engine::validity::other_shard ? 1 : 0;
            }
        }
        benchmark::DoNotOptimize(kept);
    }
    state.SetItemsProcessed(state.iterations() * rows);
    state.counters["shard_rows"] = static_cast<double>(kept);
}
BENCHMARK(BM_Validate_Shard)
    ->ArgNames({"shards", "dedupe"})
    ->Args({0, 0})
    ->Args({8, 0})
    ->Args({0, 1})
    ->Args({8, 1})
    ->Unit(benchmark::kMillisecond);

void BM_CheckAddress(benchmark::State& state) {
    const auto& input = dedupe_input();
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(salvo::engine::check_address(input[i]));
        i = (i + 1) & (input.size() - 1);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckAddress);

// The results line of an accepted row, as a server-mode send writes it
// for every row (the default MessageId: the MailingId and the address).
void BM_ResultsLine_Accepted(benchmark::State& state) {
    const auto& input = dedupe_input();
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < 4096; ++i) ids.push_back("bench-" + input[i]);
    std::string out;
    std::size_t i = 0, bytes = 0;
    std::uint64_t row = 1'234'567;
    for (auto _ : state) {
        salvo::engine::row_outcome o;
        o.row = row;
        o.line = row + 1;
        o.email = input[i];
        o.status = salvo::engine::fate::accepted;
        o.attempts = 1;
        o.message_id = ids[i];
        salvo::engine::append_results_line(out, o);
        if (out.size() > (1u << 16)) {
            bytes += out.size();
            out.clear();
        }
        i = (i + 1) & 4095;
        ++row;
    }
    benchmark::DoNotOptimize(out.data());
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes + out.size()));
}
BENCHMARK(BM_ResultsLine_Accepted);

}  // namespace

BENCHMARK_MAIN();
