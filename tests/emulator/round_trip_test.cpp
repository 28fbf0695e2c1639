// The codec against the real emulator over loopback: local and server
// merge mode deliver identical recorded emails for a few hundred random
// campaigns, both equal to a naive reference rendering; and the response
// reader maps the emulator's answers to the exact recipients.
#include "injection/job_gen.hpp"
#include "injection/spec_util.hpp"
#include "support/http_client.hpp"

#include <salvo/emulator/server.hpp>
#include <salvo/injection/batcher.hpp>
#include <salvo/injection/response_reader.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace salvo::injection {
namespace {

using emulator::recorded_email;

std::unique_ptr<emulator::server> start(emulator::options o = {}) {
    o.record_in_memory = true;
    auto s = emulator::server::start(std::move(o));
    if (!s) ADD_FAILURE() << "emulator: " << s.error().message();
    return s ? std::move(*s) : nullptr;
}

test::email as_email(const recorded_email& r) {
    test::email e;
    e.to = r.to;
    e.to_name = r.to_name;
    e.from = r.from;
    e.from_name = r.from_name;
    e.reply_to = r.reply_to;
    e.reply_to_name = r.reply_to_name;
    e.subject = r.subject;
    e.text = r.text;
    e.html = r.html;
    e.amp = r.amp;
    e.mailing_id = r.mailing_id;
    e.message_id = r.message_id;
    for (const auto& h : r.headers) e.headers.emplace_back(h.name, h.value);
    return e;
}

// Everything but where it travelled (request number, message index).
recorded_email delivered(recorded_email r) {
    r.request = 0;
    r.index = 0;
    return r;
}

// Each recipient of a request (its row id) and where its email is in the
// body, which is the order the emulator records them. A server-mode message
// holds rows of one kind, so the messages take turns between the rows, and
// a row may go in a later request than a row after it.
using placed_rows = std::vector<std::pair<std::uint64_t, std::size_t>>;
placed_rows body_positions(const outgoing_request& req) {
    std::vector<std::size_t> first(req.messages + 1, 0);
    for (const auto& s : req.slots) ++first[s.message + 1];
    for (std::size_t m = 1; m <= req.messages; ++m) first[m] += first[m - 1];
    placed_rows at;
    for (const auto& s : req.slots) at.emplace_back(s.id, first[s.message] + s.row);
    return at;
}

// The emails the emulator recorded for requests `numbers`, in the order of
// their rows.
std::vector<recorded_email> in_row_order(
    const std::vector<std::uint64_t>& numbers,
    std::map<std::uint64_t, std::vector<recorded_email>>& by_request,
    const std::map<std::uint64_t, placed_rows>& positions) {
    std::vector<std::pair<std::uint64_t, recorded_email>> rows;
    for (const auto k : numbers) {
        const auto& got = by_request[k];
        const auto& at = positions.at(k);
        EXPECT_EQ(got.size(), at.size()) << "request " << k;
        for (const auto& [id, p] : at)
            if (p < got.size()) rows.emplace_back(id, got[p]);
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<recorded_email> out;
    for (auto& [id, e] : rows) out.push_back(std::move(e));
    return out;
}

// Sends every request the batcher completes; returns the requests' numbers
// as the emulator counts them.
struct sender {
    salvo::test::http_client& client;
    std::uint64_t& next_number;
    response_reader reader;
    std::map<std::uint64_t, placed_rows> positions;  // by request number

    std::vector<std::uint64_t> drain(batcher& b, const request_writer& w) {
        std::vector<std::uint64_t> numbers;
        while (b.ready()) {
            auto req = b.take();
            std::vector<std::pair<std::string, std::string>> headers;
            if (!w.authorization().empty())
                headers.emplace_back("Authorization", w.authorization());
            const auto reply = client.post(req.body, headers);
            numbers.push_back(++next_number);
            positions[next_number] = body_positions(req);
            EXPECT_FALSE(reply.error) << reply.error.message();
            const auto& v = reader.read(reply.status, reply.body, req);
            EXPECT_EQ(v.request_fate, api_result::accepted) << v.detail << "\n" << req.body;
            EXPECT_TRUE(v.rejected.empty()) << v.detail << "\n" << req.body;
            b.recycle(std::move(req));
        }
        return numbers;
    }
};

TEST(RoundTrip, LocalAndServerModeDeliverIdenticalEmails) {
    auto srv = start();
    ASSERT_TRUE(srv);
    salvo::test::http_client client(srv->port());
    std::uint64_t next_number = 0;
    sender send{client, next_number, {}, {}};
    test::job_gen g(4242);

    struct sent {
        std::vector<test::email> expected;
        std::vector<std::uint64_t> requests[2];  // local, server
    };
    std::vector<sent> jobs;
    std::size_t invalid = 0;
    std::size_t with_elidable = 0;    // server-mode jobs whose messages may leave fields out
    std::size_t rows_with_twins = 0;  // rows whose message may leave a field out
    for (int n = 0; n < 300; ++n) {
        auto job = test::random_job(g, 9);
        sent s;
        for (const auto& r : job.recipients)
            if (auto e = job.reference(r)) s.expected.push_back(*e);
        const auto creds = n % 2 ? test::bearer_credentials() : test::legacy_credentials();
        limits lim;
        lim.messages_per_request = 1 + g.pick(4);
        lim.recipients_per_message = 1 + g.pick(4);
        for (const auto mode : {merge_mode::local, merge_mode::server}) {
            auto spec = job.spec();
            if (n % 3 == 0) {
                spec.charset = "UTF-8";
                spec.attachments.push_back({"a.txt", "aGk=", "text/plain", ""});
                spec.attachments.push_back({"logo.png", "iVBORw0KGgo=", "image/png", "logo"});
                spec.metadata.push_back({"campaign", "c\"1"});
                spec.tags = {"round", "trip"};
            }
            auto w = request_writer::create(std::move(spec), creds, mode);
            ASSERT_TRUE(w) << "job " << n << ": " << w.error().message;
            // Half the jobs let the batcher write the short messages open
            // at flush() again (the rows outlive it).
            auto b = batcher::create(*w, lim, n % 4 < 2);
            ASSERT_TRUE(b);
            if ((*w)->elidable_fields() != 0) ++with_elidable;
            auto& numbers = s.requests[mode == merge_mode::server];
            for (auto& r : job.recipients) {
                if ((*w)->equal_fields(r.view()) != 0) ++rows_with_twins;
                const auto placed = b->add(r.view());
                EXPECT_EQ(placed.has_value(), job.reference(r).has_value())
                    << "job " << n << " row " << r.id
                    << (placed ? "" : ": " + placed.error().message);
                if (!placed) ++invalid;
                for (auto k : send.drain(*b, **w)) numbers.push_back(k);
            }
            b->flush();
            for (auto k : send.drain(*b, **w)) numbers.push_back(k);
        }
        jobs.push_back(std::move(s));
    }

    std::map<std::uint64_t, std::vector<recorded_email>> by_request;
    for (auto& e : srv->recorded()) by_request[e.request].push_back(e);
    std::size_t emails = 0;
    for (std::size_t n = 0; n < jobs.size(); ++n) {
        std::vector<recorded_email> got[2];
        for (int m = 0; m < 2; ++m)
            got[m] = in_row_order(jobs[n].requests[m], by_request, send.positions);
        const auto& want = jobs[n].expected;
        ASSERT_EQ(got[0].size(), want.size()) << "job " << n << " local";
        ASSERT_EQ(got[1].size(), want.size()) << "job " << n << " server";
        for (std::size_t i = 0; i < want.size(); ++i) {
            ASSERT_EQ(delivered(got[0][i]), delivered(got[1][i])) << "job " << n << " email " << i;
            ASSERT_EQ(as_email(got[0][i]), want[i]) << "job " << n << " email " << i;
            if (n % 3 == 0) {
                ASSERT_EQ(got[0][i].attachments.size(), 2U);
                EXPECT_EQ(got[0][i].attachments[0].bytes, 2U);
                EXPECT_EQ(got[0][i].attachments[1].content_id, "logo");
                EXPECT_EQ(got[0][i].tags, (std::vector<std::string>{"round", "trip"}));
            }
        }
        emails += want.size();
    }
    EXPECT_GT(emails, 800U);
    EXPECT_GT(invalid, 20U);
    // Enough campaigns where a message leaves a field out of its rows.
    EXPECT_GT(with_elidable, 20U) << with_elidable;
    EXPECT_GT(rows_with_twins, 100U) << rows_with_twins;
}

// A column that holds one value for many rows is sent once a message, in
// its Global, from the second message on; rows whose value differs, is
// empty or is absent carry their own. The emulator delivers, in every
// case, what local mode delivers.
TEST(RoundTrip, AValueSharedInTheGlobalDeliversWhatLocalModeDelivers) {
    auto srv = start();
    ASSERT_TRUE(srv);
    salvo::test::http_client client(srv->port());
    std::uint64_t next_number = 0;
    response_reader reader;
    test::spec_text t;
    t.subject = "News for %%company%%";
    t.text = "Hi %%first|there%% at %%company|nowhere%% (%%plan%%)";
    t.html = "<p>%%company%% &amp; %%first%%, %%plan%%</p>";
    const merge::field_set fields{{"first", "company", "plan"}, {}};
    const auto rows_of = [](bool constant) {
        std::vector<test::owned_recipient> rows;
        for (std::size_t i = 0; i < 40; ++i) {
            std::optional<std::string> company = "Example \"Corp\" <&>";
            // As long, but a different value a row.
            if (!constant)
                company = std::string("Example \"Corp\" <") + static_cast<char>('a' + i / 26) +
                          static_cast<char>('a' + i % 26);
            if (constant && i == 12) company = "";
            if (constant && i == 13) company = std::nullopt;
            if (constant && i == 18) company = "Other";
            if (constant && i >= 30) company = "Next Co";
            std::optional<std::string> first = "Ann" + std::to_string(i);
            if (i % 7 == 3) first = std::nullopt;
            rows.push_back(
                {"r" + std::to_string(i) + "@example.com", "", {first, company, {"gold"}}, {}, i});
        }
        return rows;
    };
    limits lim;
    lim.recipients_per_message = 5;
    lim.messages_per_request = 3;
    struct result {
        std::vector<recorded_email> emails;
        std::size_t bytes = 0;
        std::string bodies;
    };
    const auto run = [&](merge_mode mode, std::vector<test::owned_recipient> rows) {
        result out;
        auto w =
            request_writer::create(test::make_spec(t, fields), test::legacy_credentials(), mode);
        EXPECT_TRUE(w) << (w ? "" : w.error().message);
        auto b = batcher::create(*w, lim);
        std::vector<std::uint64_t> numbers;
        std::map<std::uint64_t, placed_rows> positions;
        const auto drain = [&] {
            while (b->ready()) {
                auto req = b->take();
                out.bytes += req.body.size();
                out.bodies += req.body;
                numbers.push_back(++next_number);
                positions[next_number] = body_positions(req);
                const auto reply = client.post(req.body, {});
                EXPECT_FALSE(reply.error) << reply.error.message();
                const auto& v = reader.read(reply.status, reply.body, req);
                EXPECT_EQ(v.request_fate, api_result::accepted) << v.detail << "\n" << req.body;
                b->recycle(std::move(req));
            }
        };
        for (auto& r : rows) {
            EXPECT_TRUE(b->add(r.view()));
            drain();
        }
        b->flush();
        drain();
        std::map<std::uint64_t, std::vector<recorded_email>> by_request;
        for (auto& e : srv->recorded()) by_request[e.request].push_back(e);
        for (auto& e : in_row_order(numbers, by_request, positions))
            out.emails.push_back(delivered(e));
        return out;
    };
    for (const bool constant : {true, false}) {
        const auto local = run(merge_mode::local, rows_of(constant));
        const auto server = run(merge_mode::server, rows_of(constant));
        ASSERT_EQ(local.emails.size(), 40U);
        ASSERT_EQ(server.emails.size(), 40U);
        for (std::size_t i = 0; i < 40; ++i)
            EXPECT_EQ(local.emails[i], server.emails[i])
                << "constant " << constant << " email " << i;
        if (constant) {
            EXPECT_EQ(local.emails[12].text, "Hi Ann12 at nowhere (gold)");
            EXPECT_EQ(local.emails[13].subject, "News for ");
            EXPECT_EQ(local.emails[18].html, "<p>Other &amp; Ann18, gold</p>");
            // Once a message has closed, plan and the company are in the
            // Global of each message opened after it. Only the messages open
            // before (one for each kind of row, four kinds at most) carry
            // plan in their rows.
            const std::string_view all = server.bodies;
            std::size_t messages = 0, sharing = 0, plan_in_rows = 0, plan_in_global = 0;
            for (auto at = all.find("\"PerMessage\":["); at != std::string_view::npos;
                 at = all.find("\"PerMessage\":[", at + 1)) {
                ++messages;
                const auto global = all.find("\"Global\":[", at);
                const auto end = all.find("]}}", global);
                const auto rows_part = all.substr(at, global - at);
                const auto global_part = all.substr(global, end - global);
                plan_in_rows += rows_part.find("\"Field\":\"plan\"") != std::string_view::npos;
                plan_in_global += global_part.find("\"Field\":\"plan\",\"Value\":\"gold\"") !=
                                  std::string_view::npos;
                // Messages whose rows leave the company out, its value in the
                // Global.
                constexpr std::string_view company = "\"Field\":\"company\",\"Value\":\"";
                const auto c = global_part.find(company);
                if (rows_part.find("\"Field\":\"company\"") == std::string_view::npos &&
                    c != std::string_view::npos && global_part[c + company.size()] != '"')
                    ++sharing;
            }
            EXPECT_GE(messages, 8U) << server.bodies;
            EXPECT_LE(plan_in_rows, 4U) << server.bodies;
            EXPECT_EQ(plan_in_rows + plan_in_global, messages) << server.bodies;
            EXPECT_GE(sharing, 3U) << server.bodies;
        } else {
            // The company differs in every row: it is watched in the first
            // message only, and plan is still shared.
            EXPECT_EQ(local.emails[39].subject, "News for Example \"Corp\" <bn");
        }
    }
    // A company of one value in most rows takes fewer bytes than a company
    // a row of the same length (whose HTML escaping is even shorter).
    EXPECT_LT(run(merge_mode::server, rows_of(true)).bytes + 40 * 30,
              run(merge_mode::server, rows_of(false)).bytes);
}

TEST(RoundTrip, RejectedAddressesMapToTheExactRecipients) {
    emulator::options o;
    emulator::fault_rule reject;
    reject.kind = emulator::fault_kind::reject_address;
    reject.pattern = "^bad";
    o.faults.push_back(reject);
    auto srv = start(o);
    ASSERT_TRUE(srv);
    salvo::test::http_client client(srv->port());
    test::spec_text t;
    t.subject = "Hi %%first%%";
    t.text = "Hello %%first%%";
    merge::field_set f{{"first"}, {}};
    std::size_t total_accepted = 0;
    for (const auto mode : {merge_mode::local, merge_mode::server}) {
        auto w = request_writer::create(test::make_spec(t, f), test::legacy_credentials(), mode);
        ASSERT_TRUE(w);
        limits lim;
        lim.recipients_per_message = 7;
        auto b = batcher::create(*w, lim);
        ASSERT_TRUE(b);
        std::vector<test::owned_recipient> people;
        for (std::uint64_t i = 0; i < 30; ++i)
            people.push_back({(i % 4 == 1 ? "bad" : "ok") + std::to_string(i) + "@example.com",
                              "",
                              {"P" + std::to_string(i)},
                              {},
                              i});
        // Message 2 of server mode holds only bad addresses: NoValidRecipients.
        if (mode == merge_mode::server)
            for (std::uint64_t i = 14; i < 21; ++i)
                people[i].address = "bad-all" + std::to_string(i) + "@x.example";
        for (auto& p : people) ASSERT_TRUE(b->add(p.view()));
        b->flush();
        response_reader reader;
        std::size_t rejected = 0, accepted = 0;
        while (b->ready()) {
            const auto req = b->take();
            const auto reply = client.post(req.body);
            const auto& v = reader.read(reply.status, reply.body, req);
            ASSERT_EQ(v.request_fate, api_result::accepted) << v.detail;
            EXPECT_EQ(v.code, api_code::warning);
            for (std::uint32_t s = 0; s < req.slots.size(); ++s) {
                const bool bad = req.address(req.slots[s]).substr(0, 3) == "bad";
                EXPECT_EQ(v.fate_of(s), bad ? api_result::rejected : api_result::accepted)
                    << req.address(req.slots[s]);
                if (bad) {
                    EXPECT_EQ(v.code_of(s), api_code::invalid_address);
                    ++rejected;
                } else {
                    ++accepted;
                }
            }
        }
        EXPECT_EQ(rejected + accepted, 30U);
        total_accepted += accepted;
        // Exactly the accepted recipients were delivered.
        EXPECT_EQ(srv->recorded().size(), total_accepted);
    }
}

TEST(RoundTrip, WrongKeyStopsTheJob) {
    emulator::options o;
    o.api_key = "the-right-key";
    auto srv = start(o);
    ASSERT_TRUE(srv);
    salvo::test::http_client client(srv->port());
    auto w = request_writer::create(test::make_spec({}, merge::field_set{}), {1, "the-wrong-key"},
                                    merge_mode::local);
    ASSERT_TRUE(w);
    auto b = batcher::create(*w);
    ASSERT_TRUE(b);
    test::owned_recipient r{"a@example.com", "", {}, {}, 1};
    ASSERT_TRUE(b->add(r.view()));
    b->flush();
    const auto req = b->take();
    const auto reply = client.post(req.body);
    response_reader reader;
    const auto& v = reader.read(reply.status, reply.body, req);
    EXPECT_EQ(reply.status, 401);
    EXPECT_EQ(v.request_fate, api_result::stop_job);
    EXPECT_EQ(v.code, api_code::invalid_authentication);
    EXPECT_EQ(v.detail.find("the-wrong-key"), std::string::npos);
}

}  // namespace
}  // namespace salvo::injection
