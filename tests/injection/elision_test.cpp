// Server mode leaves out of a merge message's rows the computed fields that
// render, in every row of that message, what an earlier field of the same
// column renders (request_writer::field_mask): fewer bytes a row, and the
// same emails as local mode, whatever the rows hold.
#include <salvo/injection/batcher.hpp>

#include "spec_util.hpp"
#include "wire_model.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
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
          limits lim = {}) {
    auto b = batcher::create(std::move(w), lim);
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
    for (const auto& r : s.requests) {
        wire_model m(r.body);
        s.messages += m.messages;
        s.bytes += r.body.size();
        for (auto& e : m.emails) s.emails.push_back(std::move(e));
    }
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

TEST(Elision, ARowThatRendersATwinDifferentlyEndsTheMessageAndTheTwinComesBack) {
    std::vector<owned_recipient> rows;
    for (std::size_t i = 0; i < 12; ++i) rows.push_back(row(i, "Ann"));
    rows[3].values[0] = "O'Neil";  // first differs in HTML from here on
    rows[8].values[0] = "Zoë & Co";
    limits lim;
    lim.recipients_per_message = 50;
    const auto local = send(merge_mode::local, rows, lim);
    const auto server = send(merge_mode::server, rows, lim);
    expect_same_emails(local, server);
    // Rows 0-2 in a message without first's twin, rows 3-11 in one with it:
    // the batcher does not try to leave it out again.
    EXPECT_EQ(server.messages, 2U);
    ASSERT_EQ(server.requests.size(), 1U);
    ASSERT_EQ(server.requests[0].slots.size(), 12U);
    EXPECT_EQ(server.requests[0].slots[2].message, 0U);
    EXPECT_EQ(server.requests[0].slots[3].message, 1U);
    EXPECT_EQ(server.requests[0].slots[3].row, 0U);
    EXPECT_EQ(server.requests[0].slots[11].row, 8U);
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
    EXPECT_EQ(server.messages, 2U) << "rows 0-3 without the field, rows 4-5 with it";
    const auto& body = server.requests[0].body;
    EXPECT_EQ(count(body, "<p>Sent to %%DeliveryAddress%%,"), 1U) << body;
    // The field's value is written for rows 4 and 5 only (once as an
    // address, once as the field) and r0 to r3 only as DeliveryAddress.
    EXPECT_EQ(count(body, "r0@example.com"), 1U) << body;
    EXPECT_EQ(count(body, "r5@example.com"), 2U) << body;
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
