#include <salvo/injection/lowering.hpp>
#include <salvo/injection/request_writer.hpp>

#include "job_gen.hpp"
#include "spec_util.hpp"
#include "wire_model.hpp"

#include <gtest/gtest.h>

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
    EXPECT_EQ(l.prefix(), "s");  // every row carries the names: short ones
    EXPECT_EQ(lowered(l, tpl("<p>%%first%%</p>", f, context::html)), "<p>%%s1%%</p>");
    EXPECT_EQ(lowered(l, tpl("%%email:url%% %%first|friend%% %%first:raw%%", f, context::html)),
              "%%s2%% %%s3%% %%first%%");
    // The same (field, modifier, context, fallback) reuses its derived field.
    EXPECT_EQ(lowered(l, tpl("<b>%%First%%</b>", f, context::html)), "<b>%%s1%%</b>");
    // A different context is a different derived field.
    EXPECT_EQ(lowered(l, tpl("%%first|friend%%", f, context::text)), "%%s4%%");
}

TEST(ServerLowering, DerivedNamesNeverCollideWithUserFields) {
    {
        // Names that only start like ours are no clash.
        merge::field_set f{{"salvo_1", "Sx1", "S1x", "s"}, {{"SPCTX", "v"}}};
        server_lowering l(f);
        EXPECT_EQ(l.prefix(), "s");
    }
    {
        merge::field_set f{{"S12"}, {}};
        server_lowering l(f);
        EXPECT_EQ(l.prefix(), "salvo_");
        EXPECT_EQ(lowered(l, tpl("%%S12|x%%", f, context::text)), "%%salvo_1%%");
    }
    {
        // `pct` is taken too: the percent field is named prefix + "pct".
        merge::field_set f{{"s1", "salvo_7"}, {{"SALVO1_PCT", "v"}}};
        server_lowering l(f);
        EXPECT_EQ(l.prefix(), "salvo2_");
        EXPECT_EQ(lowered(l, tpl("%%s1|x%%", f, context::text)), "%%salvo2_1%%");
    }
}

TEST(ServerLowering, ThePlainAddressColumnIsWrittenAsDeliveryAddress) {
    merge::field_set f{{"first", "Email"}, {}};
    server_lowering l(f, 1);
    EXPECT_EQ(lowered(l, tpl("news-%%email%%", f, context::header)), "news-%%DeliveryAddress%%");
    // Escaped or encoded, it is still a computed field of its own.
    EXPECT_EQ(lowered(l, tpl("<a>%%Email%%</a> %%email:url%%", f, context::html)),
              "<a>%%s1%%</a> %%s2%%");
    l.finish();
    for (const auto& field : l.fields()) EXPECT_NE(field.name, "Email");
    // Without an address column it is an ordinary field.
    server_lowering plain(f);
    EXPECT_EQ(lowered(plain, tpl("news-%%email%%", f, context::header)), "news-%%email%%");
}

TEST(ServerLowering, EnvelopeNamesAreAlwaysDerived) {
    merge::field_set f{{"DeliveryAddress", "recipientname"}, {}};
    server_lowering l(f);
    EXPECT_EQ(lowered(l, tpl("%%DeliveryAddress%% %%RecipientName%%", f, context::text)),
              "%%s1%% %%s2%%");
}

TEST(ServerLowering, GlobalThroughADerivedFieldIsADerivedGlobal) {
    merge::field_set f{{"note"}, {{"note", "<g>"}, {"Company", "A&B"}}};
    server_lowering l(f);
    EXPECT_EQ(lowered(l, tpl("%%note%% %%Company%%", f, context::html)), "%%s1%% %%s2%%");
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

// --- Property: on random jobs, server mode delivers what local mode
// renders, and both deliver the naive reference rendering.

TEST(ServerLowering, RandomJobsRenderTheSameInBothModesAndAsTheReference) {
    test::job_gen g(20261126);
    std::size_t emails = 0, invalid = 0;
    for (int n = 0; n < 300; ++n) {
        auto job = test::random_job(g);
        auto local =
            request_writer::create(job.spec(), test::legacy_credentials(), merge_mode::local);
        auto server =
            request_writer::create(job.spec(), test::legacy_credentials(), merge_mode::server);
        ASSERT_TRUE(local) << local.error().message;
        ASSERT_TRUE(server) << "job " << n << ": " << server.error().message;

        std::string lbody, sbody;
        (*local)->begin_request(lbody);
        (*server)->begin_request(sbody);
        (*server)->open_merge_message(sbody, true);
        std::vector<test::email> expected;
        for (auto& rec : job.recipients) {
            const auto le = (*local)->append_message(lbody, rec.view(), expected.empty());
            const auto se = (*server)->append_row(sbody, rec.view(), expected.empty());
            const auto want = job.reference(rec);
            ASSERT_EQ(le.has_value(), se.has_value())
                << "job " << n << " row " << rec.id << ": " << (le ? le->message : se->message);
            ASSERT_EQ(le.has_value(), !want.has_value())
                << "job " << n << " row " << rec.id << " from '" << job.from.text << "' subject '"
                << job.subject.text << "' text '" << job.text.text << "' html '"
                << (job.html ? job.html->text : "-") << "' values " << [&] {
                       std::string v;
                       for (std::size_t c = 0; c < rec.values.size(); ++c)
                           v += job.fields.columns[c] + "=" +
                                (rec.values[c] ? "[" + *rec.values[c] + "]" : "absent") + " ";
                       return v;
                   }();
            if (le) {
                EXPECT_EQ(le->code, se->code);
                ++invalid;
                continue;
            }
            expected.push_back(*want);
        }
        (*server)->close_merge_message(sbody);
        (*local)->end_request(lbody);
        (*server)->end_request(sbody);
        test::wire_model lm(lbody), sm(sbody);
        ASSERT_TRUE(lm.valid && sm.valid);
        ASSERT_EQ(lm.emails.size(), expected.size());
        ASSERT_EQ(sm.emails.size(), expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            ASSERT_EQ(lm.emails[i], expected[i]) << "job " << n << " email " << i;
            ASSERT_EQ(sm.emails[i], expected[i])
                << "job " << n << " email " << i
                << "\nlowered subject: " << (*server)->lowered_subject();
        }
        emails += expected.size();
    }
    // The generator exercises what it should.
    EXPECT_GT(emails, 500U);
    EXPECT_GT(invalid, 10U);
}

}  // namespace
}  // namespace salvo::injection
