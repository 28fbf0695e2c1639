// Server mode leaves out of a merge message's rows the computed fields that
// render, in every row of that message, what an earlier field of the same
// column renders (request_writer::field_mask): fewer bytes a row, and the
// same emails as local mode, whatever the rows hold.
#include <salvo/injection/batcher.hpp>

#include "spec_util.hpp"
#include "wire_model.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace salvo::injection {
namespace {

using test::owned_recipient;
using test::spec_text;
using test::wire_model;

// `first` and `city` each appear plain in the text and HTML-escaped in the
// HTML body, with the same fallback both times: the HTML-escaped field is
// the one a message can leave out. `plan` is only in the text: nothing to
// leave out.
spec_text newsletter() {
    spec_text t;
    t.subject = "Hello %%first%%";
    t.text = "Hi %%first%% from %%city|your city%%, plan %%plan%%";
    t.html = "<p>Hi %%first%% from %%city|your city%%</p>";
    return t;
}

merge::field_set columns() {
    return {{"first", "city", "plan"}, {}};
}

std::shared_ptr<const request_writer> make(merge_mode mode, const spec_text& t = newsletter()) {
    auto w =
        request_writer::create(test::make_spec(t, columns()), test::legacy_credentials(), mode);
    EXPECT_TRUE(w) << (w ? "" : w.error().message);
    return w ? *w : nullptr;
}

owned_recipient row(std::size_t i, std::optional<std::string> first,
                    std::optional<std::string> city = "Lyon") {
    return {"r" + std::to_string(i) + "@example.com",
            "",
            {std::move(first), std::move(city), {"gold"}},
            {},
            i};
}

struct sent {
    std::vector<outgoing_request> requests;
    std::vector<test::email> emails;
    std::size_t messages = 0;
    std::size_t bytes = 0;
};

sent send(std::shared_ptr<const request_writer> w, std::vector<owned_recipient>& rows,
          limits lim = {}, bool rows_outlive_flush = false) {
    auto b = batcher::create(std::move(w), lim, rows_outlive_flush);
    EXPECT_TRUE(b);
    sent s;
    const auto drain = [&] {
        while (b->ready()) s.requests.push_back(b->take());
    };
    for (auto& r : rows) {
        const auto placed = b->add(r.view());
        EXPECT_TRUE(placed) << "row " << r.id << ": " << (placed ? "" : placed.error().message);
        drain();
    }
    b->flush();
    drain();
    // The emails in the order the rows were added. A request's slots are in
    // that order, and each says where its email is (message and row); a
    // server-mode row may go in a later request than a row after it.
    std::vector<std::pair<std::uint64_t, test::email>> by_row;
    for (const auto& r : s.requests) {
        wire_model m(r.body);
        s.messages += m.messages;
        s.bytes += r.body.size();
        EXPECT_EQ(m.emails.size(), r.slots.size());
        std::vector<std::size_t> first_email{0};
        for (const auto n : m.rows_per_message) first_email.push_back(first_email.back() + n);
        for (std::size_t k = 0; k < r.slots.size(); ++k) {
            const auto& slot = r.slots[k];
            if (k > 0) {
                EXPECT_LT(r.slots[k - 1].id, slot.id) << "slots in the order rows came";
            }
            const bool placed = slot.message < m.rows_per_message.size() &&
                                slot.row < m.rows_per_message[slot.message];
            EXPECT_TRUE(placed) << "row " << slot.id << " names no email of its request";
            if (!placed) continue;
            const auto& e = m.emails[first_email[slot.message] + slot.row];
            EXPECT_EQ(e.to, r.address(slot)) << "row " << slot.id;
            by_row.emplace_back(slot.id, e);
        }
    }
    std::sort(by_row.begin(), by_row.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    for (auto& [id, e] : by_row) s.emails.push_back(std::move(e));
    return s;
}

sent send(merge_mode mode, std::vector<owned_recipient>& rows, limits lim = {},
          const spec_text& t = newsletter()) {
    return send(make(mode, t), rows, lim);
}

std::size_t count(const std::string& body, const std::string& what) {
    std::size_t n = 0;
    for (auto at = body.find(what); at != std::string::npos; at = body.find(what, at + 1)) ++n;
    return n;
}

void expect_same_emails(const sent& local, const sent& server) {
    ASSERT_EQ(local.emails.size(), server.emails.size());
    for (std::size_t i = 0; i < local.emails.size(); ++i)
        EXPECT_EQ(local.emails[i], server.emails[i]) << "email " << i;
}

TEST(Elision, TheWriterFindsTheFieldsThatCanBeLeftOut) {
    auto w = make(merge_mode::server);
    ASSERT_TRUE(w);
    // first (HTML-escaped) and city|your city (HTML-escaped) have an
    // earlier twin; plan and the twins themselves do not.
    EXPECT_EQ(w->elidable_fields(), request_writer::field_mask{3});
    auto clean = row(0, "Ann");
    EXPECT_EQ(w->equal_fields(clean.view()), 3U);
    auto quoted = row(1, "O'Neil");
    EXPECT_EQ(w->equal_fields(quoted.view()), 2U) << "an apostrophe is escaped in HTML only";
    auto empty_city = row(2, "Ann", "");
    EXPECT_EQ(w->equal_fields(empty_city.view()), 3U) << "both render the fallback";
    auto no_city = row(3, "Ann", std::nullopt);
    EXPECT_EQ(w->equal_fields(no_city.view()), 3U) << "both take the same Global";
    auto no_first = row(4, std::nullopt);
    EXPECT_EQ(w->equal_fields(no_first.view()), 3U) << "both take an empty Global";
    auto ampersand = row(5, "Ann", "A&B");
    EXPECT_EQ(w->equal_fields(ampersand.view()), 1U);
    EXPECT_EQ(make(merge_mode::local)->elidable_fields(), 0U);
}

TEST(Elision, CleanRowsLeaveTheTwinsOutAndDeliverWhatLocalModeDelivers) {
    std::vector<owned_recipient> rows;
    for (std::size_t i = 0; i < 20; ++i) rows.push_back(row(i, "Ann" + std::to_string(i)));
    rows[3].values[1] = "";            // the fallback, in both
    rows[4].values[1] = std::nullopt;  // the Global, in both
    const auto local = send(merge_mode::local, rows);
    const auto server = send(merge_mode::server, rows);
    expect_same_emails(local, server);
    ASSERT_EQ(server.requests.size(), 1U);
    EXPECT_EQ(server.messages, 1U);
    const auto& body = server.requests[0].body;
    const auto rows_part = body.substr(0, body.find("\"Global\""));
    // Each row: DeliveryAddress, first, city, plan, and neither twin; no
    // RecipientName (the rows have no name: the Global "" stands in), and
    // no city in rows 3 and 4 (empty renders the Global, absent takes it).
    EXPECT_EQ(count(rows_part, "{\"Field\":"), 20U * 4 - 2) << body;
    // The same rows without anything left out: rows with a byte in first.
    std::vector<owned_recipient> dirty = rows;
    for (auto& r : dirty) r.values[0] = *r.values[0] + "&";
    const auto full = send(merge_mode::server, dirty);
    EXPECT_GT(full.bytes, server.bytes + 20 * 20) << "every row carries two more fields";
}

TEST(Elision, RowsThatRenderATwinDifferentlyShareAMessageOfTheirOwn) {
    std::vector<owned_recipient> rows;
    for (std::size_t i = 0; i < 12; ++i) rows.push_back(row(i, "Ann"));
    rows[3].values[0] = "O'Neil";  // first differs in HTML
    rows[8].values[0] = "Zoë & Co";
    limits lim;
    lim.recipients_per_message = 50;
    const auto local = send(merge_mode::local, rows, lim);
    const auto server = send(merge_mode::server, rows, lim);
    expect_same_emails(local, server);
    // The ten clean rows in a message without first's twin, rows 3 and 8 in
    // one with it; the clean rows after them still leave it out.
    EXPECT_EQ(server.messages, 2U);
    ASSERT_EQ(server.requests.size(), 1U);
    const auto& r = server.requests[0];
    ASSERT_EQ(r.slots.size(), 12U);
    // The slots in the rows' order; rows 3 and 8 in the second message.
    for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(r.slots[i].id, i);
    EXPECT_EQ(r.slots[2].message, 0U);
    EXPECT_EQ(r.slots[3].message, 1U);
    EXPECT_EQ(r.slots[3].row, 0U);
    EXPECT_EQ(r.slots[4].message, 0U);
    EXPECT_EQ(r.slots[4].row, 3U);
    EXPECT_EQ(r.slots[8].message, 1U);
    EXPECT_EQ(r.slots[8].row, 1U);
    EXPECT_EQ(r.slots[11].row, 9U);
    // first's twin (s2) is named by the second message's HTML, and carried
    // by its two rows (and, empty, by each message's Global).
    EXPECT_EQ(count(r.body, "%%s2%%"), 1U) << r.body;
    EXPECT_EQ(count(r.body, "{\"Field\":\"s2\""), 2U + 2) << r.body;
}

// Rows of more kinds than a batcher keeps messages open for: the message
// with the fewest rows makes room, and the twin its rows left out and the
// new row does not is sent from then on, so that the kinds merge rather
// than cost a short message each time; every row is still delivered as
// local mode delivers it.
TEST(Elision, RowsOfManyKindsMergeIntoFewMessages) {
    spec_text t;
    t.subject = "News";
    t.text = "%%a%% %%b%% %%c%% %%d%% %%e%%";
    t.html = "<p>%%a%% %%b%% %%c%% %%d%% %%e%%</p>";
    merge::field_set f{{"a", "b", "c", "d", "e"}, {}};
    const auto writer = [&](merge_mode mode) {
        auto w = request_writer::create(test::make_spec(t, f), test::legacy_credentials(), mode);
        EXPECT_TRUE(w) << (w ? "" : w.error().message);
        return w ? *w : nullptr;
    };
    auto w = writer(merge_mode::server);
    ASSERT_TRUE(w);
    ASSERT_EQ(w->elidable_fields(), request_writer::field_mask{31});
    // Row i has an ampersand in column i % 6 (none when 5): six kinds.
    std::vector<owned_recipient> rows;
    for (std::size_t i = 0; i < 600; ++i) {
        // Appended, not `"r" + std::to_string(i)`: g++ 12 warns falsely on
        // that (-Wrestrict, GCC bug 105329).
        std::string address = "r";
        address.append(std::to_string(i)).append("@example.com");
        owned_recipient r{address, "", {}, {}, i};
        for (std::size_t c = 0; c < 5; ++c)
            r.values.emplace_back(c == i % 6 ? std::string("x&y")
                                             : std::string("v").append(std::to_string(c)));
        rows.push_back(std::move(r));
    }
    const auto local = send(writer(merge_mode::local), rows);
    const auto server = send(writer(merge_mode::server), rows);
    expect_same_emails(local, server);
    // 600 rows of 50: at least 12 messages. Six kinds could each make a
    // short message every time they meet; merged, a few more than 12.
    EXPECT_GE(server.messages, 12U);
    EXPECT_LE(server.messages, 20U);
}

// At flush() the messages still open are short. When the rows outlive the
// flush, they are written again into as few messages as they fill, which
// leave out what all of them leave out; otherwise each kind's message goes
// as it is. Either way every row gets what local mode gives it.
TEST(Elision, ShortMessagesAtFlushAreWrittenAgainAsFewer) {
    std::vector<owned_recipient> rows;
    for (std::size_t i = 0; i < 30; ++i) {
        // Four kinds: clean, first differs in HTML, city does, both do.
        rows.push_back(row(i, i % 2 ? "O'Neil" : "Ann", i % 4 >= 2 ? "A&B" : "Lyon"));
    }
    const auto local = send(merge_mode::local, rows);
    const auto apart = send(make(merge_mode::server), rows, {}, false);
    const auto merged = send(make(merge_mode::server), rows, {}, true);
    expect_same_emails(local, apart);
    expect_same_emails(local, merged);
    EXPECT_EQ(apart.messages, 4U);
    EXPECT_EQ(merged.messages, 1U);
    ASSERT_EQ(merged.requests.size(), 1U);
    // Neither twin (s2, s3) is left out: some rows render each differently.
    // Each row carries both, and the Global too.
    const auto& body = merged.requests[0].body;
    EXPECT_EQ(count(body, "\"Field\":\"s2\""), 30U + 1) << body;
    EXPECT_EQ(count(body, "\"Field\":\"s3\""), 30U + 1) << body;

    // 120 rows of the same kinds: the four messages fill to 30 rows each
    // and none is short enough to merge: as many messages either way.
    std::vector<owned_recipient> more;
    for (std::size_t i = 0; i < 120; ++i)
        more.push_back(row(i, i % 2 ? "O'Neil" : "Ann", i % 4 >= 2 ? "A&B" : "Lyon"));
    limits lim;
    lim.recipients_per_message = 30;
    const auto full = send(make(merge_mode::server), more, lim, true);
    expect_same_emails(send(merge_mode::local, more, lim), full);
    EXPECT_EQ(full.messages, 4U);
}

// Random rows of every kind (a first name or city to escape in HTML, empty,
// absent, long) under random limits, with and without the flush's merge:
// every request within its caps, every row once, and each row's email what
// local mode makes of it.
TEST(Elision, RandomRowsAndLimitsDeliverWhatLocalModeDelivers) {
    std::mt19937 rng(20261201);
    const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    const std::optional<std::string> firsts[] = {"Ann",        "O'Neil",   "",
                                                 std::nullopt, "Zoë & Co", std::string(300, 'f')};
    const std::optional<std::string> cities[] = {"Lyon", "A&B", "", std::nullopt, "<Paris>"};
    std::size_t requests = 0, messages = 0;
    for (int n = 0; n < 200; ++n) {
        std::vector<owned_recipient> rows;
        const std::size_t count = 1 + pick(120);
        // Mostly one kind, with others mixed in, or every kind at random.
        const bool mixed = pick(2) == 0;
        for (std::size_t i = 0; i < count; ++i) {
            const bool odd = mixed || pick(5) == 0;
            rows.push_back(
                row(i, odd ? firsts[pick(6)] : firsts[0], odd ? cities[pick(5)] : cities[0]));
        }
        limits lim;
        lim.messages_per_request = 1 + pick(4);
        lim.recipients_per_message = 1 + pick(6);
        if (pick(2) == 0) lim.max_request_bytes = 4000 + pick(6000);
        SCOPED_TRACE(std::string("job ").append(std::to_string(n)));
        const auto local = send(merge_mode::local, rows, lim);
        const auto server = send(make(merge_mode::server), rows, lim, pick(2) == 0);
        expect_same_emails(local, server);
        for (const auto& r : server.requests) {
            EXPECT_LE(r.body.size(), lim.max_request_bytes);
            EXPECT_LE(r.messages, lim.messages_per_request);
            wire_model m(r.body);
            for (const auto k : m.rows_per_message) EXPECT_LE(k, lim.recipients_per_message);
        }
        requests += server.requests.size();
        messages += server.messages;
    }
    EXPECT_GT(requests, 400U);
    EXPECT_GT(messages, requests);
}

TEST(Elision, AHeaderValueWithALineBreakIsStillRefused) {
    std::vector<owned_recipient> rows{row(0, "Ann"), row(1, "Ann\r\nBcc: x@evil"), row(2, "Bob")};
    auto b = batcher::create(make(merge_mode::server));
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->add(rows[0].view()));
    const auto refused = b->add(rows[1].view());
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, make_error_code(merge::errc::header_injection));
    EXPECT_TRUE(b->add(rows[2].view()));
    b->flush();
    ASSERT_TRUE(b->ready());
    wire_model m(b->take().body);
    ASSERT_EQ(m.emails.size(), 2U);
    EXPECT_EQ(m.emails[1].subject, "Hello Bob");
}

// A refused row that renders a twin differently ends the open message, but
// it was never sent: later messages still leave that twin out.
TEST(Elision, ARefusedRowDoesNotBringATwinBack) {
    std::vector<owned_recipient> rows{row(0, "Ann"), row(1, "O'Neil\r\nBcc: x@evil")};
    for (std::size_t i = 2; i < 6; ++i) rows.push_back(row(i, "Bob"));
    auto b = batcher::create(make(merge_mode::server));
    ASSERT_TRUE(b);
    for (auto& r : rows) {
        const auto placed = b->add(r.view());
        EXPECT_EQ(placed.has_value(), r.id != 1) << "row " << r.id;
    }
    b->flush();
    ASSERT_TRUE(b->ready());
    const auto body = b->take().body;
    // With first's HTML twin back, the second message's HTML would name it
    // (s2) and its rows would carry it.
    EXPECT_EQ(count(body, "%%s2%%"), 0U) << body;
    EXPECT_EQ(count(body, "\"Field\":\"s2\",\"Value\":\"Bob\""), 0U) << body;
    wire_model m(body);
    ASSERT_EQ(m.emails.size(), 5U);
    EXPECT_EQ(m.emails[4].html, "<p>Hi Bob from Lyon</p>");
}

TEST(Elision, ARowTooBigForTheOpenRequestIsMeasuredAloneAndGoesOn) {
    // The open message sends city's twin (row 0's city differs in HTML);
    // the long row, alone, would leave it out: it is measured that way.
    std::vector<owned_recipient> rows{row(0, "Ann", "A&B")};
    for (std::size_t i = 1; i < 40; ++i) rows.push_back(row(i, "Ann"));
    // The cap: the 40 rows in one request, and 1 000 bytes more, which the
    // long row (2.5 KB in server mode, 7.5 KB in local) is not.
    limits lim;
    lim.max_request_bytes = send(merge_mode::server, rows).bytes + 1000;
    rows.push_back(row(40, "Bob " + std::string(2500, 'b')));
    rows.push_back(row(41, "Cy"));
    const auto local = send(merge_mode::local, rows, lim);
    const auto server = send(merge_mode::server, rows, lim);
    expect_same_emails(local, server);
    EXPECT_EQ(server.emails.size(), rows.size());
    ASSERT_EQ(server.requests.size(), 2U);
    EXPECT_EQ(server.requests[1].slots.front().id, 40U);
    for (const auto& r : server.requests) EXPECT_LE(r.body.size(), lim.max_request_bytes);

    // Over the cap even alone: the error gives the size it has alone, as
    // its own message would be written (leaving out both twins).
    std::vector<owned_recipient> huge{row(50, "Dee " + std::string(12000, 'd'))};
    const auto alone = send(merge_mode::server, huge).bytes;
    ASSERT_GT(alone, lim.max_request_bytes);
    auto b = batcher::create(make(merge_mode::server), lim);
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->add(rows[0].view()));  // opens a message with city's twin
    const auto refused = b->add(huge[0].view());
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, make_error_code(errc::message_too_large));
    EXPECT_NE(refused.error().message.find("a request of " + std::to_string(alone) + " bytes"),
              std::string::npos)
        << refused.error().message << " (alone: " << alone << ")";
}

// The address column HTML-escaped (a footer's "Sent to %%email%%") is the
// DeliveryAddress every row carries whenever the address holds none of
// & < > " ': a message leaves it out and its HTML reads %%DeliveryAddress%%.
TEST(Elision, TheAddressInHtmlIsLeftOutForDeliveryAddress) {
    spec_text t;
    t.subject = "News";
    t.text = "Sent to %%email%%";
    t.html = "<p>Sent to %%email%%, %%first%%</p>";
    merge::field_set f{{"email", "first"}, {}};
    const auto writer = [&](merge_mode mode) {
        auto spec = test::make_spec(t, f);
        spec.address_column = 0;
        auto w = request_writer::create(std::move(spec), test::legacy_credentials(), mode);
        EXPECT_TRUE(w) << (w ? "" : w.error().message);
        return w ? *w : nullptr;
    };
    const auto at = [](std::size_t i, std::string address) {
        return owned_recipient{address, "", {address, "Ann"}, {}, i};
    };
    std::vector<owned_recipient> rows;
    for (std::size_t i = 0; i < 6; ++i)
        rows.push_back(at(i, "r" + std::to_string(i) + "@example.com"));
    rows[4] = at(4, "o'neil@example.com");  // HTML-escaped differs from here on
    auto w = writer(merge_mode::server);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->elidable_fields(), request_writer::field_mask{1});
    EXPECT_EQ(w->equal_fields(rows[0].view()), 1U);
    EXPECT_EQ(w->equal_fields(rows[4].view()), 0U) << "an apostrophe is escaped in HTML";
    auto trimmed = rows[1];
    trimmed.address = "other@example.com";  // the row's column is not the address sent
    EXPECT_EQ(w->equal_fields(trimmed.view()), 0U);

    const auto local = send(writer(merge_mode::local), rows);
    const auto server = send(writer(merge_mode::server), rows);
    expect_same_emails(local, server);
    ASSERT_EQ(server.requests.size(), 1U);
    EXPECT_EQ(server.messages, 2U) << "rows 0-3 and 5 without the field, row 4 with it";
    const auto& body = server.requests[0].body;
    EXPECT_EQ(count(body, "<p>Sent to %%DeliveryAddress%%,"), 1U) << body;
    // The field's value is written for row 4 only (once as an address,
    // once as the field), and for the others only as DeliveryAddress.
    EXPECT_EQ(count(body, "r0@example.com"), 1U) << body;
    EXPECT_EQ(count(body, "r5@example.com"), 1U) << body;
    EXPECT_EQ(count(body, "o'neil@example.com"), 1U) << body;
    EXPECT_EQ(count(body, "o&#39;neil@example.com"), 1U) << body;
}

// Only the first 64 row fields can be shared in a message's Global: with
// 70 columns of one value each, the last 6 stay in every row, the others
// go in the Global from the second message on, and server mode delivers
// what local mode does.
TEST(Elision, SharedValuesCoverTheFirst64RowFieldsOfAWideTemplate) {
    merge::field_set f;
    spec_text t;
    t.subject = "News";
    std::string text;
    for (int c = 0; c < 70; ++c) {
        f.columns.push_back(std::string{"c"} += std::to_string(c));
        text += "%%c" + std::to_string(c) + "%% ";
    }
    t.text = text;
    t.html = std::nullopt;
    std::vector<owned_recipient> rows;
    for (std::size_t i = 0; i < 12; ++i) {
        owned_recipient r{"r" + std::to_string(i) + "@example.com", "", {}, {}, i};
        for (int c = 0; c < 70; ++c) r.values.emplace_back(std::string{"v"} += std::to_string(c));
        if (i == 7) r.values[3] = std::nullopt;  // takes its own Global, written out
        if (i == 8) r.values[69] = "other";
        rows.push_back(std::move(r));
    }
    const auto run = [&](merge_mode mode) {
        auto w = request_writer::create(test::make_spec(t, f), test::legacy_credentials(), mode);
        EXPECT_TRUE(w) << (w ? "" : w.error().message);
        limits lim;
        lim.recipients_per_message = 4;
        return w ? send(*w, rows, lim) : sent{};
    };
    const auto local = run(merge_mode::local);
    const auto server = run(merge_mode::server);
    expect_same_emails(local, server);
    ASSERT_EQ(server.requests.size(), 1U);
    EXPECT_EQ(server.messages, 3U);
    const auto& body = server.requests[0].body;
    // c0..c63: 4 rows of the first message, its Global (empty), the Global
    // of the other two, and row 7's own absent c3.
    EXPECT_EQ(count(body, "{\"Field\":\"c10\""), 4U + 1 + 2) << body;
    EXPECT_EQ(count(body, "{\"Field\":\"c3\""), 4U + 1 + 2 + 1) << body;
    // c64..c69 are never shared: in all 12 rows and the first Global only.
    EXPECT_EQ(count(body, "{\"Field\":\"c66\""), 12U + 3) << body;
}

}  // namespace
}  // namespace salvo::injection
