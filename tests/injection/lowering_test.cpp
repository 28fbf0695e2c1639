#include <salvo/injection/lowering.hpp>
#include <salvo/injection/request_writer.hpp>

#include "spec_util.hpp"
#include "wire_model.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace salvo::injection {
namespace {

using merge::context;
using test::owned_recipient;
using test::tpl;

std::string lowered(server_lowering& l, const merge::compiled_template& t) {
    auto r = l.lower(t);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : std::string();
}

TEST(ServerScan, FindsPlainPlaceholdersOnly) {
    const std::string s = "a %%One%% 50%% off %%%Two%% %%x y%% %%3a%% %%b-_9%%%%";
    const auto found = server_scan(s);
    ASSERT_EQ(found.size(), 3U);
    EXPECT_EQ(found[0].name, "One");
    EXPECT_EQ(found[0].pos, 2U);
    EXPECT_EQ(found[1].name, "Two");
    EXPECT_EQ(found[1].pos, s.find("%%Two"));
    EXPECT_EQ(found[2].name, "b-_9");
}

TEST(ServerLowering, PlainTextFieldKeepsItsName) {
    merge::field_set f{{"first"}, {}};
    server_lowering l(f);
    EXPECT_EQ(lowered(l, tpl("Hi %%first%%!", f, context::text)), "Hi %%first%%!");
    EXPECT_EQ(lowered(l, tpl("Hi %%FIRST%%", f, context::header)), "Hi %%first%%");
    l.finish();
    ASSERT_EQ(l.fields().size(), 1U);
    EXPECT_FALSE(l.fields()[0].derived);
    // Used in a header too: the value is checked for line breaks there.
    EXPECT_EQ(l.fields()[0].renderers.size(), 2U);
}

TEST(ServerLowering, EscapingEncodingAndFallbackBecomeDerivedFields) {
    merge::field_set f{{"first", "email"}, {}};
    server_lowering l(f);
    EXPECT_EQ(lowered(l, tpl("<p>%%first%%</p>", f, context::html)), "<p>%%salvo_1%%</p>");
    EXPECT_EQ(lowered(l, tpl("%%email:url%% %%first|friend%% %%first:raw%%", f, context::html)),
              "%%salvo_2%% %%salvo_3%% %%first%%");
    // The same (field, modifier, context, fallback) reuses its derived field.
    EXPECT_EQ(lowered(l, tpl("<b>%%First%%</b>", f, context::html)), "<b>%%salvo_1%%</b>");
    // A different context is a different derived field.
    EXPECT_EQ(lowered(l, tpl("%%first|friend%%", f, context::text)), "%%salvo_4%%");
}

TEST(ServerLowering, DerivedNamesNeverCollideWithUserFields) {
    merge::field_set f{{"salvo_1", "Salvo1_x"}, {{"SALVO2_g", "v"}}};
    server_lowering l(f);
    EXPECT_EQ(l.prefix(), "salvo3_");
    EXPECT_EQ(lowered(l, tpl("%%salvo_1|x%%", f, context::text)), "%%salvo3_1%%");
}

TEST(ServerLowering, EnvelopeNamesAreAlwaysDerived) {
    merge::field_set f{{"DeliveryAddress", "recipientname"}, {}};
    server_lowering l(f);
    EXPECT_EQ(lowered(l, tpl("%%DeliveryAddress%% %%RecipientName%%", f, context::text)),
              "%%salvo_1%% %%salvo_2%%");
}

TEST(ServerLowering, GlobalThroughADerivedFieldIsADerivedGlobal) {
    merge::field_set f{{"note"}, {{"note", "<g>"}, {"Company", "A&B"}}};
    server_lowering l(f);
    EXPECT_EQ(lowered(l, tpl("%%note%% %%Company%%", f, context::html)), "%%salvo_1%% %%salvo_2%%");
    l.finish();
    ASSERT_EQ(l.fields().size(), 2U);
    EXPECT_EQ(l.fields()[0].global, "&lt;g&gt;");
    EXPECT_EQ(l.fields()[0].column, 0U);  // rows with their own note carry their own copy
    EXPECT_EQ(l.fields()[1].global, "A&amp;B");
    EXPECT_FALSE(l.fields()[1].column);
}

TEST(ServerLowering, LiteralThatTheServerWouldMergeIsProtected) {
    merge::field_set f{{"first"}, {}};
    server_lowering l(f);
    const auto t = tpl("x %%%first%% %%%first|a%% 100% %%", f, context::text);
    const auto out = lowered(l, t);
    l.finish();
    // Whatever the text became, the server finds only our placeholders.
    for (const auto& p : server_scan(out)) {
        bool ours = false;
        for (const auto& mf : l.fields()) ours = ours || p.name == mf.name;
        EXPECT_TRUE(ours) << p.name << " in " << out;
    }
    // A template the server reads correctly is left alone.
    EXPECT_EQ(lowered(l, tpl("50%% off %%%%", f, context::text)), "50%% off %%%%");
}

TEST(ServerLowering, AssemblyEscapesPercentOnlyWhenTheServerWouldMisread) {
    bool escaped = true;
    // Literal `%` and `%%` next to a placeholder read fine.
    auto ok = assemble_for_server({{false, "50%% off %"}, {true, "salvo_1"}, {false, "%%%%"}},
                                  "salvo_pct", escaped);
    ASSERT_TRUE(ok);
    EXPECT_FALSE(escaped);
    EXPECT_EQ(*ok, "50%% off %%%salvo_1%%%%%%");
    // A literal the server would take for a placeholder gets every `%` split.
    auto fixed =
        assemble_for_server({{false, "%%Name%% 5%"}, {true, "first"}}, "salvo_pct", escaped);
    ASSERT_TRUE(fixed);
    EXPECT_TRUE(escaped);
    EXPECT_EQ(*fixed,
              "%%salvo_pct%%%%salvo_pct%%Name%%salvo_pct%%%%salvo_pct%% 5%%salvo_pct%%%%first%%");
    std::map<std::string, std::string> values{{"salvo_pct", "%"}, {"first", "Ann"}};
    EXPECT_EQ(test::server_merge(*fixed, values), "%%Name%% 5%Ann");
    // Without a field to escape with, it is refused.
    EXPECT_FALSE(assemble_for_server({{false, "%%Name%%"}}, "", escaped));
}

// --- Property: on random jobs, server mode delivers what local mode renders.

struct job_gen {
    std::mt19937 rng;
    explicit job_gen(unsigned seed) : rng(seed) {}

    std::size_t pick(std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    }
    bool coin(int percent) { return pick(100) < static_cast<std::size_t>(percent); }

    std::string random_case(std::string s) {
        for (auto& c : s)
            if (coin(30)) c = static_cast<char>((c >= 'a' && c <= 'z') ? c - 32 : c);
        return s;
    }

    std::vector<std::string> names;  // columns then globals

    std::string placeholder() {
        std::string p = "%%" + random_case(names[pick(names.size())]);
        const auto m = pick(4);
        if (m == 1) p += ":raw";
        if (m == 2) p += ":url";
        static const char* fallbacks[] = {"friend", "<b>&amp;", "a:b", "x|y", "\"q\"", "ü"};
        if (coin(40)) p += std::string("|") + fallbacks[pick(6)];
        return p + "%%";
    }

    std::string text(bool header) {
        static const char* literals[] = {
            "Hello ", "50%% off", "%",    "%%",   "%%%", "%%First Name%%", "<&>\"'", "ü€", "\\",
            " ",      "a:b|c",    "100%", "%%%%", "x%%", "%%salvo_1%%!"};
        static const char* body_only[] = {"\n", "\t", "line\r\n"};
        std::string out;
        const auto n = pick(7);
        for (std::size_t i = 0; i < n; ++i) {
            if (coin(45))
                out += placeholder();
            else if (!header && coin(15))
                out += body_only[pick(3)];
            else
                out += literals[pick(15)];
        }
        return out;
    }

    std::optional<std::string> value() {
        static const char* values[] = {"",    "Ann",         "<b>&'\"",   "ü",
                                       "50%", "%%first%%",   "a+b c/d?e", "x\\y",
                                       "%%",  "line\nbreak", "tab\there"};
        if (coin(15)) return std::nullopt;
        if (coin(5)) return std::string(300, 'L');
        return std::string(values[pick(11)]);
    }
};

merge::compiled_template compile_or_literal(job_gen& g, merge::context c, const merge::field_set& f,
                                            bool header, bool html_escape, const char* label) {
    for (int attempt = 0; attempt < 20; ++attempt) {
        auto text = g.text(header);
        if (text.empty()) text.push_back('x');
        auto r = merge::compile(text, f, {c, html_escape, false, label});
        if (r) return *r;
    }
    return *merge::compile("plain", f, {c, html_escape, false, label});
}

TEST(ServerLowering, RandomJobsRenderTheSameInBothModes) {
    job_gen g(20261126);
    std::size_t emails = 0, invalid = 0, protected_literals = 0;
    for (int job = 0; job < 300; ++job) {
        static const char* column_pool[] = {"first",           "Last_Name",    "code-1",
                                            "salvo_1",         "SALVO_x",      "note",
                                            "DeliveryAddress", "recipientName"};
        merge::field_set f;
        for (const auto* c : column_pool)
            if (g.coin(60)) f.columns.emplace_back(c);
        if (f.columns.empty()) f.columns.emplace_back("first");
        static const char* global_pool[] = {"Company", "first", "note", "salvo_g"};
        static const char* global_values[] = {"ACME", "<&>", "", "%%first%%", "50%"};
        for (const auto* gname : global_pool)
            if (g.coin(40)) f.globals.push_back({gname, global_values[g.pick(5)]});
        g.names = f.columns;
        for (const auto& gl : f.globals) g.names.push_back(gl.name);

        const bool esc = !g.coin(20);
        message_spec s;
        s.fields = f;
        s.from.email = compile_or_literal(g, context::header, f, true, esc, "From address");
        s.from.name = compile_or_literal(g, context::header, f, true, esc, "From name");
        if (g.coin(50)) {
            s.reply_to.emplace();
            s.reply_to->email = compile_or_literal(g, context::header, f, true, esc, "ReplyTo");
        }
        s.subject = compile_or_literal(g, context::header, f, true, esc, "subject");
        s.text_body = compile_or_literal(g, context::text, f, false, esc, "text body");
        if (g.coin(70))
            s.html_body = compile_or_literal(g, context::html, f, false, esc, "html body");
        if (g.coin(30))
            s.amp_body = compile_or_literal(g, context::html, f, false, esc, "amp body");
        if (g.coin(50))
            s.mailing_id = compile_or_literal(g, context::header, f, true, esc, "MailingId");
        if (g.coin(50))
            s.message_id = compile_or_literal(g, context::header, f, true, esc, "MessageId");
        if (g.coin(50))
            s.custom_headers.push_back(
                {"X-Test", compile_or_literal(g, context::header, f, true, esc, "header X-Test")});

        auto local = request_writer::create(s, test::legacy_credentials(), merge_mode::local);
        auto server = request_writer::create(s, test::legacy_credentials(), merge_mode::server);
        ASSERT_TRUE(local) << local.error().message;
        ASSERT_TRUE(server) << "job " << job << ": " << server.error().message;
        for (const auto& mf : (*server)->merge_fields())
            if (mf.global == "%") ++protected_literals;

        std::string lbody, sbody;
        (*local)->begin_request(lbody);
        (*server)->begin_request(sbody);
        (*server)->open_merge_message(sbody, true);
        std::size_t kept = 0;
        const auto rows = 1 + g.pick(6);
        for (std::size_t r = 0; r < rows; ++r) {
            owned_recipient rec;
            rec.address = std::to_string(r);
            rec.address.insert(rec.address.begin(), 'r');
            rec.address += "@example.com";
            if (g.coin(50)) {
                rec.name = std::to_string(r);
                rec.name.insert(0, "Name ");
            }
            for (std::size_t c = 0; c < f.columns.size(); ++c) rec.values.push_back(g.value());
            const auto le = (*local)->append_message(lbody, rec.view(), kept == 0);
            const auto se = (*server)->append_row(sbody, rec.view(), kept == 0);
            ASSERT_EQ(le.has_value(), se.has_value())
                << "job " << job << " row " << r << ": " << (le ? le->message : se->message);
            if (le) {
                EXPECT_EQ(le->code, se->code);
                ++invalid;
                continue;
            }
            ++kept;
        }
        (*server)->close_merge_message(sbody);
        (*local)->end_request(lbody);
        (*server)->end_request(sbody);
        test::wire_model lm(lbody), sm(sbody);
        ASSERT_TRUE(lm.valid && sm.valid);
        ASSERT_EQ(lm.emails.size(), kept);
        ASSERT_EQ(sm.emails.size(), kept);
        for (std::size_t i = 0; i < kept; ++i)
            ASSERT_EQ(lm.emails[i], sm.emails[i])
                << "job " << job << " email " << i << "\n"
                << "lowered subject: " << (*server)->lowered_subject();
        emails += kept;
    }
    // The generator exercises what it should.
    EXPECT_GT(emails, 500U);
    EXPECT_GT(invalid, 10U);
    RecordProperty("protected_literals", static_cast<int>(protected_literals));
}

}  // namespace
}  // namespace salvo::injection
