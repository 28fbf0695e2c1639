// The Injection API codec on the realistic newsletter (bench/include/salvo/bench/newsletter.hpp):
// the request writer through the batcher in both merge modes, and the
// response reader on the success fast path and on a Warning that names ten
// failed messages.
#include <salvo/bench/newsletter.hpp>
#include "alloc_counter.hpp"

#include <salvo/injection/batcher.hpp>
#include <salvo/injection/request_writer.hpp>
#include <salvo/injection/response_reader.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <new>

namespace {

using namespace salvo;

struct campaign {
    merge::field_set fields;
    std::vector<std::vector<std::string>> rows;
    std::vector<std::vector<std::string_view>> views;

    campaign() {
        fields.columns = bench::newsletter_columns();
        rows = bench::newsletter_rows(1024);
        for (const auto& r : rows) views.emplace_back(r.begin(), r.end());
    }

    std::shared_ptr<const injection::request_writer> writer(injection::merge_mode mode) const {
        const auto make = [&](const std::string& source, merge::context where, const char* label) {
            merge::compile_options o;
            o.where = where;
            o.label = label;
            return merge::compile(source, fields, o).value();
        };
        injection::message_spec s;
        s.fields = fields;
        s.from.email = make("news@example.com", merge::context::header, "From");
        s.from.name = make("Example News", merge::context::header, "From name");
        s.subject = make(bench::newsletter_subject(), merge::context::header, "subject");
        s.text_body = make(bench::newsletter_text(), merge::context::text, "text body");
        s.html_body = make(bench::newsletter_html(), merge::context::html, "html body");
        s.mailing_id = make("nov-2026", merge::context::header, "MailingId");
        s.tags = {"newsletter"};
        return injection::request_writer::create(std::move(s), {12345, "bench-api-key"}, mode)
            .value();
    }
};

const campaign& the_campaign() {
    static const campaign c;
    return c;
}

void write_requests(benchmark::State& state, injection::merge_mode mode) {
    const campaign& c = the_campaign();
    auto b = injection::batcher::create(c.writer(mode)).value();
    std::size_t bytes = 0, rows = 0, i = 0, allocations = 0;
    const auto drain = [&] {
        while (b.ready()) {
            auto r = b.take();
            bytes += r.body.size();
            benchmark::DoNotOptimize(r.body.data());
            b.recycle(std::move(r));
        }
    };
    // Warm up so that every buffer has reached its working size.
    for (std::size_t k = 0; k < 2000; ++k) {
        const auto& row = c.views[k & 1023];
        (void)b.add({row[0], row[1], row, k});
        drain();
    }
    bytes = 0;
    const std::size_t before = bench::allocation_count;
    for (auto _ : state) {
        const auto& row = c.views[i & 1023];
        auto placed = b.add({row[0], row[1], row, i});
        if (!placed) state.SkipWithError("a recipient was refused");
        ++i;
        ++rows;
        drain();
    }
    allocations = bench::allocation_count - before;
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
    state.SetItemsProcessed(static_cast<std::int64_t>(rows));
    state.counters["bytes/row"] = static_cast<double>(bytes) / static_cast<double>(rows);
    state.counters["allocs/row"] = static_cast<double>(allocations) / static_cast<double>(rows);
}

void BM_RequestWriter_LocalNewsletter(benchmark::State& state) {
    write_requests(state, injection::merge_mode::local);
}
BENCHMARK(BM_RequestWriter_LocalNewsletter);

void BM_RequestWriter_ServerNewsletter(benchmark::State& state) {
    write_requests(state, injection::merge_mode::server);
}
BENCHMARK(BM_RequestWriter_ServerNewsletter);

// A local-mode request of ten messages, as the batcher lays it out.
injection::outgoing_request ten_messages() {
    injection::outgoing_request r;
    for (std::uint32_t m = 0; m < 10; ++m) {
        const auto a = "user" + std::to_string(m) + "@mail.example.com";
        r.slots.push_back({m, m, 0, static_cast<std::uint32_t>(r.addresses.size()),
                           static_cast<std::uint32_t>(a.size())});
        r.addresses += a;
    }
    r.messages = 10;
    return r;
}

void BM_ResponseReader_SuccessFastPath(benchmark::State& state) {
    const auto req = ten_messages();
    injection::response_reader reader;
    const std::string body(injection::canonical_success_body);
    for (auto _ : state) {
        const auto& v = reader.read(200, body, req);
        benchmark::DoNotOptimize(&v);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResponseReader_SuccessFastPath);

void BM_ResponseReader_SuccessParsed(benchmark::State& state) {
    const auto req = ten_messages();
    injection::response_reader reader;
    const std::string body =
        R"({"ErrorCode": "Success", "MessageResults": [], "TransactionReceipt": null})";
    for (auto _ : state) {
        const auto& v = reader.read(200, body, req);
        benchmark::DoNotOptimize(&v);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResponseReader_SuccessParsed);

void BM_ResponseReader_Warning10Results(benchmark::State& state) {
    const auto req = ten_messages();
    injection::response_reader reader;
    std::string body = R"({"ErrorCode":"Warning","TransactionReceipt":null,"MessageResults":[)";
    for (int m = 0; m < 10; ++m) {
        if (m) body += ',';
        body += R"({"Index":)" + std::to_string(m) +
                R"(,"ErrorCode":"NoValidRecipients","AddressResults":[{"EmailAddress":"user)" +
                std::to_string(m) +
                R"(@mail.example.com","Accepted":false,"ErrorCode":"InvalidAddress"}]})";
    }
    body += "]}";
    for (auto _ : state) {
        const auto& v = reader.read(200, body, req);
        if (v.rejected.size() != 10) state.SkipWithError("wrong mapping");
        benchmark::DoNotOptimize(&v);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResponseReader_Warning10Results);

}  // namespace

BENCHMARK_MAIN();
