#include <salvo/injection/request_writer.hpp>

#include "spec_util.hpp"
#include "wire_model.hpp"

#include <gtest/gtest.h>

#include <string>

namespace salvo::injection {
namespace {

using test::make_spec;
using test::owned_recipient;
using test::spec_text;
using test::wire_model;

merge::field_set fields(std::vector<std::string> columns, std::vector<merge::global_field> g = {}) {
    return merge::field_set{std::move(columns), std::move(g)};
}

// Writes one request holding `rs`, in `mode`, and returns the body.
std::string write(const request_writer& w, std::vector<owned_recipient>& rs) {
    std::string body;
    w.begin_request(body);
    if (w.mode() == merge_mode::local) {
        for (std::size_t i = 0; i < rs.size(); ++i)
            EXPECT_FALSE(w.append_message(body, rs[i].view(), i == 0));
    } else {
        w.open_merge_message(body, true);
        for (std::size_t i = 0; i < rs.size(); ++i)
            EXPECT_FALSE(w.append_row(body, rs[i].view(), i == 0));
        w.close_merge_message(body);
    }
    w.end_request(body);
    return body;
}

std::shared_ptr<const request_writer> make(const spec_text& t, const merge::field_set& f,
                                           merge_mode mode,
                                           credentials c = test::legacy_credentials()) {
    auto w = request_writer::create(make_spec(t, f), c, mode);
    if (!w) ADD_FAILURE() << w.error().message;
    return w ? *w : nullptr;
}

TEST(RequestWriter, LegacyKeyGoesInTheBody) {
    auto w = make({}, fields({}), merge_mode::local);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->form(), auth_form::body_api_key);
    EXPECT_EQ(w->authorization(), "");
    std::vector<owned_recipient> rs{{"a@example.com", "", {}, {}, 1}};
    wire_model m(write(*w, rs));
    EXPECT_EQ(m.server_id, 12345U);
    EXPECT_EQ(m.api_key, "legacy-key-123");
}

TEST(RequestWriter, BearerKeyGoesInTheHeaderNotTheBody) {
    const auto c = test::bearer_credentials();
    auto w = make({}, fields({}), merge_mode::server, c);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->form(), auth_form::bearer);
    EXPECT_EQ(w->authorization(), "Bearer " + c.api_key);
    std::vector<owned_recipient> rs{{"a@example.com", "", {}, {}, 1}};
    const auto body = write(*w, rs);
    wire_model m(body);
    EXPECT_EQ(m.server_id, 777U);
    EXPECT_FALSE(m.api_key.has_value());
    EXPECT_EQ(body.find(c.api_key), std::string::npos);
}

TEST(RequestWriter, KeyShapeDecidesTheForm) {
    EXPECT_TRUE(is_bearer_key(std::string(20, 'x') + "." + std::string(40, 'y')));
    EXPECT_FALSE(is_bearer_key(std::string(21, 'x') + "." + std::string(39, 'y')));
    EXPECT_FALSE(is_bearer_key(std::string(20, 'x') + "." + std::string(41, 'y')));
    EXPECT_FALSE(is_bearer_key(std::string(20, 'x') + "." + std::string(19, 'y') + "." +
                               std::string(20, 'y')));
    EXPECT_FALSE(is_bearer_key("short"));
}

TEST(RequestWriter, BadCredentialsNeverQuoteTheKey) {
    const std::string key = "secret key-with-space";
    auto w = request_writer::create(make_spec({}, fields({})), {1, key}, merge_mode::local);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, make_error_code(errc::bad_credentials));
    EXPECT_EQ(w.error().message.find("secret"), std::string::npos);
    EXPECT_NE(w.error().message.find("position 7"), std::string::npos);
    auto z = request_writer::create(make_spec({}, fields({})), {0, "k"}, merge_mode::local);
    ASSERT_FALSE(z);
    auto e = request_writer::create(make_spec({}, fields({})), {1, ""}, merge_mode::local);
    ASSERT_FALSE(e);
}

TEST(RequestWriter, RefusesSpecsTheApiRefuses) {
    spec_text amp_only;
    amp_only.text.reset();
    amp_only.amp = "<p>x</p>";
    auto w = request_writer::create(make_spec(amp_only, fields({})), test::legacy_credentials(),
                                    merge_mode::local);
    ASSERT_FALSE(w);
    EXPECT_NE(w.error().message.find("AmpBody needs"), std::string::npos);

    auto many_tags = make_spec({}, fields({}));
    many_tags.tags.assign(26, "t");
    w = request_writer::create(std::move(many_tags), test::legacy_credentials(), merge_mode::local);
    ASSERT_FALSE(w);
    EXPECT_NE(w.error().message.find("26 Tags"), std::string::npos);

    auto bad_header = make_spec({}, fields({}));
    bad_header.custom_headers.push_back(
        {"X-A: b", test::tpl("v", bad_header.fields, merge::context::header)});
    w = request_writer::create(std::move(bad_header), test::legacy_credentials(),
                               merge_mode::local);
    ASSERT_FALSE(w);

    auto wrong_context = make_spec({}, fields({}));
    wrong_context.subject = test::tpl("s", wrong_context.fields, merge::context::html);
    w = request_writer::create(std::move(wrong_context), test::legacy_credentials(),
                               merge_mode::local);
    ASSERT_FALSE(w);
    EXPECT_NE(w.error().message.find("Subject must be compiled for context header"),
              std::string::npos);
}

spec_text full_text() {
    spec_text t;
    t.from = "news@example.com";
    t.from_name = "News \"for\" %%first%%";
    t.reply_to = "reply+%%code%%@example.com";
    t.reply_to_name = "Desk";
    t.subject = "Hi %%first|friend%%, 50%% off";
    t.text = "Dear %%first%%,\ncode: %%code%%\n\\path\t%%Company%%";
    t.html =
        "<p>%%first%% & %%note%% <a "
        "href=\"https://x.example/?e=%%email:url%%\">%%note:raw%%</a></p>";
    t.amp = "<p>%%first|you%%</p>";
    t.mailing_id = "m-%%code%%";
    t.message_id = "id-1";
    t.headers = {{"X-Campaign", "spring %%Company%%"}, {"X-Code", "%%code:url%%"}};
    return t;
}

merge::field_set full_fields() {
    return fields({"first", "code", "note", "email"}, {{"Company", "ACME & \"Co\""}});
}

message_spec full_spec() {
    auto s = make_spec(full_text(), full_fields());
    s.charset = "UTF-8";
    s.attachments.push_back({"logo.png", "iVBORw0KGgo=", "image/png", "logo"});
    s.attachments.push_back({"a \"b\".txt", "aGk=", "", ""});
    s.metadata.push_back({"campaign", "spring \"26\""});
    s.tags = {"news", "tag\\2"};
    return s;
}

std::vector<owned_recipient> full_rows() {
    return {
        {"ann@example.com", "Ann \"A\" Ö", {"Ann", "X1", "<b>&'", "a+b@x.example"}, {}, 1},
        {"bob@example.com", "", {"", "Y 2", std::nullopt, "b c@x"}, {}, 2},
        {"cy@example.com", "Cy", {std::nullopt, "Z\\3", "ü\"", std::nullopt}, {}, 3},
    };
}

TEST(RequestWriter, LocalWritesEveryFieldRenderedAndEscaped) {
    auto w = request_writer::create(full_spec(), test::legacy_credentials(), merge_mode::local);
    ASSERT_TRUE(w) << w.error().message;
    auto rs = full_rows();
    wire_model m(write(**w, rs));
    ASSERT_EQ(m.emails.size(), 3U);
    ASSERT_EQ(m.messages, 3U);
    const auto& a = m.emails[0];
    EXPECT_EQ(a.to, "ann@example.com");
    EXPECT_EQ(a.to_name, "Ann \"A\" Ö");
    EXPECT_EQ(a.from, "news@example.com");
    EXPECT_EQ(a.from_name, "News \"for\" Ann");
    EXPECT_EQ(a.reply_to, "reply+X1@example.com");
    EXPECT_EQ(a.reply_to_name, "Desk");
    EXPECT_EQ(a.subject, "Hi Ann, 50%% off");
    EXPECT_EQ(a.text, "Dear Ann,\ncode: X1\n\\path\tACME & \"Co\"");
    EXPECT_EQ(a.html,
              "<p>Ann & &lt;b&gt;&amp;&#39; <a "
              "href=\"https://x.example/?e=a%2Bb%40x.example\"><b>&'</a></p>");
    EXPECT_EQ(a.amp, "<p>Ann</p>");
    EXPECT_EQ(a.mailing_id, "m-X1");
    EXPECT_EQ(a.message_id, "id-1");
    EXPECT_EQ(a.charset, "UTF-8");
    ASSERT_EQ(a.headers.size(), 2U);
    EXPECT_EQ(a.headers[0],
              (std::pair<std::string, std::string>{"X-Campaign", "spring ACME & \"Co\""}));
    EXPECT_EQ(a.headers[1], (std::pair<std::string, std::string>{"X-Code", "X1"}));
    EXPECT_EQ(a.attachments, (std::vector<std::string>{"logo.png|image/png|logo|iVBORw0KGgo=",
                                                       "a \"b\".txt|||aGk="}));
    EXPECT_EQ(a.metadata, (std::vector<std::string>{"campaign=spring \"26\""}));
    EXPECT_EQ(a.tags, (std::vector<std::string>{"news", "tag\\2"}));
    // No name: no FriendlyName; empty value takes the fallback.
    EXPECT_EQ(m.emails[1].to_name, "");
    EXPECT_EQ(m.emails[1].subject, "Hi friend, 50%% off");
    EXPECT_EQ(m.emails[1].headers[1].second, "Y%202");
    EXPECT_EQ(m.emails[2].subject, "Hi friend, 50%% off");
}

TEST(RequestWriter, ServerModeDeliversWhatLocalModeRenders) {
    auto local = request_writer::create(full_spec(), test::legacy_credentials(), merge_mode::local);
    auto server =
        request_writer::create(full_spec(), test::legacy_credentials(), merge_mode::server);
    ASSERT_TRUE(local) << local.error().message;
    ASSERT_TRUE(server) << server.error().message;
    auto rs = full_rows();
    wire_model l(write(**local, rs));
    wire_model s(write(**server, rs));
    EXPECT_EQ(s.messages, 1U);
    ASSERT_EQ(l.emails.size(), s.emails.size());
    for (std::size_t i = 0; i < l.emails.size(); ++i) EXPECT_EQ(l.emails[i], s.emails[i]) << i;
}

// A server-mode row writes an empty or absent value as the rendering the
// writer worked out at create() (a fallback, a Global, nothing): what the
// server delivers must be what local mode renders, for every mix of
// present, empty and absent values, escaped or not.
TEST(RequestWriter, ServerModeEmptyAndAbsentValuesDeliverWhatLocalModeRenders) {
    spec_text t;
    t.subject = "Hi %%first|friend%%";
    t.text = "%%first|friend%% in %%city%% (%%Company%%), plan %%plan|none%%";
    t.html = "<p>%%first|dear reader%% %%city|somewhere%% %%plan%% %%Company%%</p>";
    const auto f = fields({"first", "city", "plan"}, {{"Company", "ACME"}, {"plan", "basic"}});
    auto local = make(t, f, merge_mode::local);
    auto server = make(t, f, merge_mode::server);
    ASSERT_TRUE(local && server);
    using v = std::optional<std::string>;
    std::vector<owned_recipient> rs{
        {"a@example.com", "Ann", {v("Ann"), v("Oslo"), v("gold")}, {}, 1},
        {"b@example.com", "", {v(""), v("Rome"), v("silver")}, {}, 2},
        {"c@example.com", "Cy", {std::nullopt, v("Paris"), std::nullopt}, {}, 3},
        {"d@example.com", "Di", {v("Di"), v(""), v("")}, {}, 4},
        {"e@example.com", "Ed", {std::nullopt, std::nullopt, std::nullopt}, {}, 5},
        {"f@example.com", "Fi", {v("O'Neil"), v("<b>"), v("x&y")}, {}, 6},
        {"g@example.com", "Gu", {v(""), std::nullopt, v("")}, {}, 7},
    };
    wire_model l(write(*local, rs));
    wire_model s(write(*server, rs));
    ASSERT_EQ(l.emails.size(), rs.size());
    ASSERT_EQ(s.emails.size(), rs.size());
    for (std::size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(l.emails[i], s.emails[i]) << i;
    EXPECT_EQ(s.emails[1].subject, "Hi friend");
    EXPECT_EQ(s.emails[2].text, "friend in Paris (ACME), plan basic");
    EXPECT_EQ(s.emails[3].html, "<p>Di somewhere  ACME</p>");
    EXPECT_EQ(s.emails[6].text, "friend in  (ACME), plan none");
}

// Under missing_field "invalid", a row whose value is empty or absent with
// no fallback is refused, in server mode as in local mode, and the body is
// left as it was.
TEST(RequestWriter, ServerModeRefusesAnEmptyValueWithoutFallbackLikeLocalMode) {
    spec_text t;
    t.subject = "Hi %%first|friend%%";
    t.text = "Code %%code%%";
    t.empty_is_invalid = true;
    const auto f = fields({"first", "code"});
    for (auto mode : {merge_mode::local, merge_mode::server}) {
        auto w = make(t, f, mode);
        ASSERT_TRUE(w);
        for (const auto& code : {std::optional<std::string>(""), std::optional<std::string>()}) {
            owned_recipient r{"a@example.com", "", {std::string("Ann"), code}, {}, 1};
            std::string body = "[";
            const auto e = mode == merge_mode::local ? w->append_message(body, r.view(), true)
                                                     : w->append_row(body, r.view(), true);
            EXPECT_TRUE(e) << (code ? "empty" : "absent");
            EXPECT_EQ(body, "[");
        }
        owned_recipient ok{"a@example.com", "", {std::string(""), std::string("X")}, {}, 1};
        std::string body;
        EXPECT_FALSE(mode == merge_mode::local ? w->append_message(body, ok.view(), true)
                                               : w->append_row(body, ok.view(), true));
    }
}

// A row without a name leaves RecipientName out: the message's Global
// holds it empty, so the API never sees a missing merge field, and the To
// renders as local mode writes it (no FriendlyName).
TEST(RequestWriter, ServerRowsCarryOnlyUsedFieldsAndTheNameWhenThereIsOne) {
    spec_text t;
    t.subject = "Hi %%first%%";
    t.text = "%%first%% %%Company%%";
    auto w = make(t, fields({"first", "unused"}, {{"Company", "ACME"}}), merge_mode::server);
    ASSERT_TRUE(w);
    std::vector<owned_recipient> rs{{"a@example.com", "Ann", {"Ann", "zzz"}, {}, 1},
                                    {"b@example.com", "", {"Bob", "yyy"}, {}, 2}};
    const auto body = write(*w, rs);
    EXPECT_EQ(body.find("unused"), std::string::npos);
    EXPECT_EQ(body.find("zzz"), std::string::npos);
    // Plain fields in a text or header context keep their name.
    EXPECT_NE(body.find("\"Subject\":\"Hi %%first%%\""), std::string::npos);
    EXPECT_NE(
        body.find("[{\"Field\":\"DeliveryAddress\",\"Value\":\"a@example.com\"},{\"Field\":"
                  "\"RecipientName\",\"Value\":\"Ann\"},{\"Field\":\"first\",\"Value\":\"Ann\"}]"),
        std::string::npos);
    EXPECT_NE(body.find("[{\"Field\":\"DeliveryAddress\",\"Value\":\"b@example.com\"},{\"Field\":"
                        "\"first\",\"Value\":\"Bob\"}]"),
              std::string::npos);
    EXPECT_NE(body.find("\"Global\":[{\"Field\":\"RecipientName\",\"Value\":\"\"}"),
              std::string::npos);
    EXPECT_NE(body.find("{\"Field\":\"Company\",\"Value\":\"ACME\"}"), std::string::npos);
    EXPECT_NE(body.find("\"To\":[{\"EmailAddress\":\"%%DeliveryAddress%%\",\"FriendlyName\":\"%%"
                        "RecipientName%%\"}]"),
              std::string::npos);
}

TEST(RequestWriter, LineBreakInAHeaderValueRefusesTheRecipientAndRestoresTheBody) {
    spec_text t;
    t.subject = "Hi %%first%%";
    t.text = "%%first%%";
    for (auto mode : {merge_mode::local, merge_mode::server}) {
        auto w = make(t, fields({"first"}), mode);
        ASSERT_TRUE(w);
        std::string body;
        w->begin_request(body);
        if (mode == merge_mode::server) w->open_merge_message(body, true);
        const auto before = body;
        owned_recipient r{"a@example.com", "", {"Ann\r\nBcc: x@evil"}, {}, 1};
        const auto e = mode == merge_mode::local ? w->append_message(body, r.view(), true)
                                                 : w->append_row(body, r.view(), true);
        ASSERT_TRUE(e);
        EXPECT_EQ(e->code, make_error_code(merge::errc::header_injection));
        EXPECT_NE(e->message.find("first"), std::string::npos) << e->message;
        EXPECT_EQ(body, before);
        owned_recipient bad_name{"a@example.com", "Ann\nB", {"Ann"}, {}, 1};
        const auto e2 = mode == merge_mode::local ? w->append_message(body, bad_name.view(), true)
                                                  : w->append_row(body, bad_name.view(), true);
        ASSERT_TRUE(e2);
        EXPECT_EQ(e2->code, make_error_code(errc::recipient_line_break));
        EXPECT_EQ(body, before);
    }
}

TEST(RequestWriter, RowsTheApiWouldRefuseAreRefusedAlone) {
    spec_text t;
    t.from = "%%first|x%%@example.com";
    t.subject = "%%code%%";
    t.text = "%%first:raw%%";
    for (auto mode : {merge_mode::local, merge_mode::server}) {
        auto w = make(t, fields({"first", "code"}), mode);
        ASSERT_TRUE(w);
        std::string body;
        w->begin_request(body);
        if (mode == merge_mode::server) w->open_merge_message(body, true);
        const auto before = body;
        const auto add = [&](owned_recipient r) {
            return mode == merge_mode::local ? w->append_message(body, r.view(), true)
                                             : w->append_row(body, r.view(), true);
        };
        const auto no_body = add({"a@example.com", "", {std::nullopt, "S"}, {}, 1});
        ASSERT_TRUE(no_body);
        EXPECT_EQ(no_body->code, make_error_code(errc::bad_row));
        EXPECT_NE(no_body->message.find("bodies both render empty"), std::string::npos);
        const auto no_subject = add({"a@example.com", "", {"Ann", ""}, {}, 1});
        ASSERT_TRUE(no_subject);
        EXPECT_NE(no_subject->message.find("Subject renders empty"), std::string::npos);
        const auto bad_from = add({"a@example.com", "", {"Ann Lee", "S"}, {}, 1});
        ASSERT_TRUE(bad_from);
        EXPECT_NE(bad_from->message.find("From address"), std::string::npos);
        EXPECT_EQ(body, before);
        EXPECT_FALSE(add({"a@example.com", "", {"Ann", "S"}, {}, 1}));
    }
    t.headers = {{"X-Code", "%%code%%"}};
    for (auto mode : {merge_mode::local, merge_mode::server}) {
        auto w = make(t, fields({"first", "code"}), mode);
        ASSERT_TRUE(w);
        std::string body;
        owned_recipient r{"a@example.com", "", {"Ann", ""}, {}, 1};
        t.subject = "S";
        auto w2 = make(t, fields({"first", "code"}), mode);
        ASSERT_TRUE(w2);
        if (mode == merge_mode::server) w2->open_merge_message(body, true);
        const auto e = mode == merge_mode::local ? w2->append_message(body, r.view(), true)
                                                 : w2->append_row(body, r.view(), true);
        ASSERT_TRUE(e);
        EXPECT_NE(e->message.find("custom header 'X-Code' renders empty"), std::string::npos)
            << e->message;
        t.subject = "%%code%%";
    }
    t.headers = {{"X-Empty", ""}};
    EXPECT_FALSE(request_writer::create(make_spec(t, fields({"first", "code"})),
                                        test::legacy_credentials(), merge_mode::local));
    t.headers.clear();
    t.from = "not an address";
    EXPECT_FALSE(request_writer::create(make_spec(t, fields({"first", "code"})),
                                        test::legacy_credentials(), merge_mode::local));
}

TEST(RequestWriter, ValueWithLineBreakIsFineInABodyInServerMode) {
    spec_text t;
    t.subject = "Hi";
    t.text = "%%note%%";
    auto w = make(t, fields({"note"}), merge_mode::server);
    ASSERT_TRUE(w);
    std::vector<owned_recipient> rs{{"a@example.com", "", {"line1\nline2"}, {}, 1}};
    wire_model m(write(*w, rs));
    ASSERT_EQ(m.emails.size(), 1U);
    EXPECT_EQ(m.emails[0].text, "line1\nline2");
}

}  // namespace
}  // namespace salvo::injection
