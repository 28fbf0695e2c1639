// Template expansion against memcpy of the same output, and allocations per
// row, on a realistic newsletter (see newsletter.hpp).
#include <salvo/bench/newsletter.hpp>
#include "alloc_counter.hpp"

#include <salvo/merge/template.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

namespace {

using namespace salvo;

struct newsletter {
    merge::compiled_template subject, text, html;
    std::vector<std::vector<std::string>> rows;
    std::vector<std::vector<std::string_view>> views;

    newsletter() {
        merge::field_set fields;
        fields.columns = bench::newsletter_columns();
        const auto make = [&](const std::string& source, merge::context where) {
            merge::compile_options o;
            o.where = where;
            return merge::compile(source, fields, o).value();
        };
        subject = make(bench::newsletter_subject(), merge::context::header);
        text = make(bench::newsletter_text(), merge::context::text);
        html = make(bench::newsletter_html(), merge::context::html);
        rows = bench::newsletter_rows(1024);
        for (const auto& r : rows) views.emplace_back(r.begin(), r.end());
    }
};

const newsletter& the_newsletter() {
    static const newsletter n;
    return n;
}

// Appends the next ten rows' messages (rows i, i + 1, ...) to `out`, as a
// local-mode request holds them; false when one failed.
bool expand_ten_rows(const newsletter& n, std::size_t& i, std::string& out) {
    bool ok = true;
    for (int k = 0; k < 10; ++k) {
        const auto& row = n.views[i++ & 1023];
        ok &= !n.subject.expand(row, out) && !n.text.expand(row, out) && !n.html.expand(row, out);
    }
    return ok;
}

void BM_Expand_Newsletter(benchmark::State& state) {
    const newsletter& n = the_newsletter();
    std::string out;
    out.reserve(16 * 1024);
    std::size_t bytes = 0, rows = 0, i = 0;
    const std::size_t allocations_before = bench::allocation_count;
    for (auto _ : state) {
        out.clear();
        const auto& row = n.views[i++ & 1023];
        auto e1 = n.subject.expand(row, out);
        auto e2 = n.text.expand(row, out);
        auto e3 = n.html.expand(row, out);
        benchmark::DoNotOptimize(out.data());
        if (e1 || e2 || e3) state.SkipWithError("expansion failed");
        bytes += out.size();
        ++rows;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
    state.SetItemsProcessed(static_cast<std::int64_t>(rows));
    state.counters["bytes/row"] = static_cast<double>(bytes) / static_cast<double>(rows);
    state.counters["allocs/row"] =
        static_cast<double>(bench::allocation_count - allocations_before) /
        static_cast<double>(rows);
}
BENCHMARK(BM_Expand_Newsletter);

// The same expansion as a local-mode request gets it: ten rows one after
// another into a request body, and each request a different body from a
// ring larger than the last-level cache, so the output is written to cold
// memory as the pipeline writes it, not to one buffer L1 keeps hot.
void BM_Expand_NewsletterIntoColdBodies(benchmark::State& state) {
    const newsletter& n = the_newsletter();
    constexpr std::size_t bodies_in_ring = 1536;  // x ~48 KB: above a 32 MiB L3
    std::vector<std::string> ring(bodies_in_ring);
    for (auto& b : ring) b.reserve(48 * 1024);
    std::size_t bytes = 0, rows = 0, i = 0, body = 0;
    for (auto _ : state) {
        std::string& out = ring[body++ % bodies_in_ring];
        out.clear();
        if (!expand_ten_rows(n, i, out)) state.SkipWithError("expansion failed");
        benchmark::DoNotOptimize(out.data());
        bytes += out.size();
        rows += 10;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
    state.SetItemsProcessed(static_cast<std::int64_t>(rows));
}
BENCHMARK(BM_Expand_NewsletterIntoColdBodies);

// The yardstick for the cold case: memcpy of the same output into the same
// ring of bodies.
void BM_Expand_MemcpyIntoColdBodies(benchmark::State& state) {
    const newsletter& n = the_newsletter();
    std::string sample;
    std::size_t first = 0;
    (void)expand_ten_rows(n, first, sample);
    constexpr std::size_t bodies_in_ring = 1536;
    std::vector<std::string> ring(bodies_in_ring, std::string(sample.size() + 64, '\0'));
    std::size_t bytes = 0, body = 0;
    for (auto _ : state) {
        std::string& out = ring[body++ % bodies_in_ring];
        std::memcpy(out.data(), sample.data(), sample.size());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
        bytes += sample.size();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
    state.SetItemsProcessed(state.iterations() * 10);
}
BENCHMARK(BM_Expand_MemcpyIntoColdBodies);

// The yardstick: memcpy of an output of the same size per row, in the same
// run and the same buffer discipline.
void BM_Expand_MemcpySameOutput(benchmark::State& state) {
    const newsletter& n = the_newsletter();
    std::string sample;
    (void)n.subject.expand(n.views[0], sample);
    (void)n.text.expand(n.views[0], sample);
    (void)n.html.expand(n.views[0], sample);
    std::string out(sample.size() + 64, '\0');
    std::size_t bytes = 0;
    for (auto _ : state) {
        std::memcpy(out.data(), sample.data(), sample.size());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
        bytes += sample.size();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Expand_MemcpySameOutput);

// As a local-mode send has it: a ring of bodies the size of the requests in
// circulation (in the last-level cache, not past it), each body read by
// another thread as soon as it is written (curl copying it into its send
// buffer on the network thread's core) before the ring comes round to it
// again. The writer then writes lines the other core's cache holds.
template <class Fill>
void into_bodies_another_core_reads(benchmark::State& state, Fill fill) {
    constexpr std::size_t bodies_in_ring = 128;  // x ~48 KB: 6 MB
    std::vector<std::string> ring(bodies_in_ring);
    for (auto& b : ring) b.assign(48 * 1024, '\0');
    std::atomic<std::uint64_t> written{0}, read{0};
    std::atomic<bool> done{false};
    std::thread reader([&] {
        std::string copy(64 * 1024, '\0');
        std::uint64_t next = 0;
        while (!done.load(std::memory_order_acquire)) {
            if (next == written.load(std::memory_order_acquire)) continue;
            const std::string& b = ring[next % bodies_in_ring];
            std::memcpy(copy.data(), b.data(), b.size());
            benchmark::DoNotOptimize(copy.data());
            read.store(++next, std::memory_order_release);
        }
    });
    std::size_t bytes = 0, rows = 0;
    std::uint64_t body = 0;
    for (auto _ : state) {
        while (body >= read.load(std::memory_order_acquire) + bodies_in_ring - 8) {
        }
        std::string& out = ring[body % bodies_in_ring];
        out.clear();
        fill(out);
        bytes += out.size();
        rows += 10;
        written.store(++body, std::memory_order_release);
    }
    done.store(true, std::memory_order_release);
    reader.join();
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
    state.SetItemsProcessed(static_cast<std::int64_t>(rows));
}

void BM_Expand_NewsletterIntoBodiesAnotherCoreReads(benchmark::State& state) {
    const newsletter& n = the_newsletter();
    std::size_t i = 0;
    into_bodies_another_core_reads(state, [&](std::string& out) {
        if (!expand_ten_rows(n, i, out)) state.SkipWithError("expansion failed");
    });
}
BENCHMARK(BM_Expand_NewsletterIntoBodiesAnotherCoreReads)->UseRealTime();

// What the batcher does instead: the request is written into a buffer of
// its own, which stays in this core's cache, and copied into the body whole.
void BM_Expand_NewsletterCopiedIntoBodiesAnotherCoreReads(benchmark::State& state) {
    const newsletter& n = the_newsletter();
    std::size_t i = 0;
    std::string work;
    work.reserve(64 * 1024);
    into_bodies_another_core_reads(state, [&](std::string& out) {
        work.clear();
        if (!expand_ten_rows(n, i, work)) state.SkipWithError("expansion failed");
        out.assign(work);
    });
}
BENCHMARK(BM_Expand_NewsletterCopiedIntoBodiesAnotherCoreReads)->UseRealTime();

void BM_Expand_MemcpyIntoBodiesAnotherCoreReads(benchmark::State& state) {
    const newsletter& n = the_newsletter();
    std::string sample;
    std::size_t first = 0;
    (void)expand_ten_rows(n, first, sample);
    into_bodies_another_core_reads(state, [&](std::string& out) {
        out.resize(sample.size());
        std::memcpy(out.data(), sample.data(), sample.size());
    });
}
BENCHMARK(BM_Expand_MemcpyIntoBodiesAnotherCoreReads)->UseRealTime();

void BM_Compile_Newsletter(benchmark::State& state) {
    merge::field_set fields;
    fields.columns = bench::newsletter_columns();
    const std::string html = bench::newsletter_html();
    merge::compile_options o;
    o.where = merge::context::html;
    for (auto _ : state) {
        auto t = merge::compile(html, fields, o);
        benchmark::DoNotOptimize(t);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(html.size()));
}
BENCHMARK(BM_Compile_Newsletter);

}  // namespace

BENCHMARK_MAIN();
