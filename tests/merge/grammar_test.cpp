// The template grammar: what is a placeholder, what is literal, what fails.
#include "test_util.hpp"

namespace salvo::merge {
namespace {

using test::in;
using test::make_fields;
using test::render;

const field_set fields = make_fields({"email", "first_name", "code"}, {{"company", "ACME"}});

compile_error compile_failure(std::string_view text) {
    auto t = compile(text, fields, in(context::text, "subject"));
    EXPECT_FALSE(t) << "expected a compile error for: " << text;
    return t ? compile_error{} : t.error();
}

TEST(TemplateGrammar, PlainPlaceholder) {
    EXPECT_EQ(render("Hi %%first_name%%!", fields, {"a@x.io", "Ann", "C1"}), "Hi Ann!");
}

TEST(TemplateGrammar, NamesMatchCaseInsensitively) {
    EXPECT_EQ(render("%%FIRST_NAME%% %%First_Name%% %%CoMpAnY%%", fields, {"", "Ann", ""}),
              "Ann Ann ACME");
}

TEST(TemplateGrammar, NameMayHoldDigitsUnderscoresAndHyphens) {
    const auto f = make_fields({"x-1_y"});
    EXPECT_EQ(render("[%%x-1_y%%]", f, {"v"}), "[v]");
}

TEST(TemplateGrammar, FallbackUsedForEmptyValue) {
    EXPECT_EQ(render("Hello %%first_name|friend%%", fields, {"", "", ""}), "Hello friend");
    EXPECT_EQ(render("Hello %%first_name|friend%%", fields, {"", "Bo", ""}), "Hello Bo");
}

TEST(TemplateGrammar, EmptyFallbackIsAllowed) {
    EXPECT_EQ(render("<%%nosuch|%%>", fields, {}), "<>");
}

TEST(TemplateGrammar, ModifierAndFallbackTogether) {
    EXPECT_EQ(render("%%first_name:url|a b%%", fields, {"", "", ""}), "a%20b");
    EXPECT_EQ(render("%%first_name:raw|x%%", fields, {"", "<y>", ""}, in(context::html)), "<y>");
}

TEST(TemplateGrammar, LiteralPercentsStayAsWritten) {
    for (const char* text :
         {"50%% off, 20%% more", "%%%%", "100%", "%", "%%", "a %% b", "%%1st%%", "%% name%%",
          "%%First Name%%", "%%first_name", "%%first_name%", "%%first_name %%", "x%%_y%%"}) {
        EXPECT_EQ(render(text, fields, {"", "Ann", ""}), text) << text;
    }
}

TEST(TemplateGrammar, PercentBeforePlaceholder) {
    // `%%%first_name%%`: the first `%%` is not followed by a NAME, so it moves
    // on by one `%`, and a placeholder follows.
    EXPECT_EQ(render("%%%first_name%%", fields, {"", "Ann", ""}), "%Ann");
    EXPECT_EQ(render("%%first_name%%%%code%%", fields, {"", "A", "B"}), "AB");
}

TEST(TemplateGrammar, UnknownModifierIsAnErrorWithPosition) {
    const auto e = compile_failure("Hi\n  %%first_name:upper%%");
    EXPECT_EQ(e.code, errc::unknown_modifier);
    EXPECT_EQ(e.line, 2u);
    EXPECT_EQ(e.column, 16u);  // where the modifier starts
    EXPECT_NE(e.message.find("subject:2:16"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("'upper'"), std::string::npos) << e.message;
}

TEST(TemplateGrammar, EmptyModifierIsAnError) {
    EXPECT_EQ(compile_failure("%%first_name:%%").code, errc::unknown_modifier);
}

TEST(TemplateGrammar, UnclosedFallbackIsAnError) {
    const auto e = compile_failure("Dear %%first_name|friend");
    EXPECT_EQ(e.code, errc::unclosed_placeholder);
    EXPECT_EQ(e.line, 1u);
    EXPECT_EQ(e.column, 6u);
}

TEST(TemplateGrammar, PlaceholderMustCloseOnItsLine) {
    EXPECT_EQ(compile_failure("%%first_name|friend\n%%").code, errc::unclosed_placeholder);
    EXPECT_EQ(compile_failure("%%first_name|friend\r\n%%").code, errc::unclosed_placeholder);
    EXPECT_EQ(compile_failure("%%first_name:raw x%%").code, errc::unclosed_placeholder);
}

TEST(TemplateGrammar, FallbackMayNotHoldPercent) {
    EXPECT_EQ(compile_failure("%%first_name|50% off%%").code, errc::bad_fallback);
}

// Found by the bad-input corpus (tests/data/bad/templates/): a latin-1 or
// binary template file compiled, and its bytes went into the request body.
TEST(TemplateGrammar, TemplateThatIsNotUtf8TextIsAnErrorWithPosition) {
    const auto latin1 = compile_failure("Hi %%first_name%%\nJos\xE9");
    EXPECT_EQ(latin1.code, errc::bad_text);
    EXPECT_EQ(latin1.line, 2u);
    EXPECT_EQ(latin1.column, 4u);
    EXPECT_NE(latin1.message.find("subject:2:4: not valid UTF-8"), std::string::npos)
        << latin1.message;
    const auto nul = compile_failure(std::string_view("Hi \0 there", 11));
    EXPECT_EQ(nul.code, errc::bad_text);
    EXPECT_NE(nul.message.find("NUL"), std::string::npos) << nul.message;
    for (const char* bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82", "\x80"})
        EXPECT_EQ(compile_failure(bad).code, errc::bad_text) << bad;
    for (const char* good : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xBF\xBF"})
        EXPECT_TRUE(compile(good, fields, in(context::text, "subject"))) << good;
}

TEST(TemplateGrammar, UnknownFieldListsKnownFields) {
    const auto e = compile_failure("Hi %%frist_name%%");
    EXPECT_EQ(e.code, errc::unknown_field);
    EXPECT_NE(e.message.find("frist_name"), std::string::npos);
    EXPECT_NE(e.message.find("email, first_name, code, company"), std::string::npos) << e.message;
}

TEST(TemplateGrammar, UnknownFieldWithFallbackAlwaysRendersFallback) {
    EXPECT_EQ(render("%%nosuch|x%%", fields, {"", "", ""}), "x");
}

TEST(TemplateGrammar, SegmentsDescribeThePlaceholders) {
    auto t = compile("a %%first_name:url|b%% c", fields, in(context::text));
    ASSERT_TRUE(t);
    const auto& s = t->segments();
    ASSERT_EQ(s.size(), 3u);
    EXPECT_TRUE(s[0].is_literal);
    EXPECT_EQ(s[0].literal, "a ");
    EXPECT_FALSE(s[1].is_literal);
    EXPECT_EQ(s[1].field.name, "first_name");
    EXPECT_EQ(s[1].field.mod, modifier::url);
    EXPECT_TRUE(s[1].field.has_fallback);
    EXPECT_EQ(s[1].field.fallback, "b");
    EXPECT_EQ(s[1].field.column, std::optional<std::size_t>(1));
    EXPECT_EQ(s[2].literal, " c");
    EXPECT_EQ(t->used_columns(), std::vector<std::size_t>{1});
}

TEST(TemplateGrammar, WarnsAboutLiteralsThatLookLikePlaceholders) {
    auto t =
        compile("Dear %%First Name%%,\n50%% off, 20%% more", fields, in(context::text, "text"));
    ASSERT_TRUE(t);
    ASSERT_EQ(t->warnings().size(), 1u);
    const auto& w = t->warnings()[0];
    EXPECT_EQ(w.text, "%%First Name%%");
    EXPECT_EQ(w.line, 1u);
    EXPECT_EQ(w.column, 6u);
    EXPECT_NE(w.message.find("%%First_Name%%"), std::string::npos) << w.message;
}

TEST(TemplateGrammar, WarnsAboutAPlaceholderWithoutItsClosingPercents) {
    auto t = compile("Hi %%first_name,\nyour code: %%code%%\n10%%off", fields,
                     in(context::text, "text"));
    ASSERT_TRUE(t);
    ASSERT_EQ(t->warnings().size(), 2u);
    EXPECT_EQ(t->warnings()[0].text, "%%first_name");
    EXPECT_EQ(t->warnings()[0].line, 1u);
    EXPECT_EQ(t->warnings()[0].column, 4u);
    EXPECT_NE(t->warnings()[0].message.find("did you mean %%first_name%%?"), std::string::npos)
        << t->warnings()[0].message;
    EXPECT_EQ(t->warnings()[1].text, "%%off");
    EXPECT_EQ(t->warnings()[1].line, 3u);
    // Still printed as written.
    EXPECT_EQ(render("Hi %%first_name, ok", fields, {"", "Ann", ""}), "Hi %%first_name, ok");
    // `%%name %%` later on the line is left to the look-alike warning.
    auto u = compile("%%first_name %%", fields, in(context::text, "text"));
    ASSERT_TRUE(u);
    EXPECT_LE(u->warnings().size(), 1u);
}

TEST(TemplateGrammar, ValueExceptionCarriesMessage) {
    auto t = compile("%%bad:upper%%", fields, in(context::text));
    EXPECT_THROW((void)t.value(), std::runtime_error);
}

// `%%plan|valued</b> member of %%company%%`: the fallback's closing `%%`
// opens the next placeholder; silently it would print "company%%".
TEST(TemplateGrammar, AFallbackRunningIntoTheNextPlaceholderIsAnError) {
    const auto e = compile_failure("Hi\nDear %%first_name|valued</b> member of %%company%%");
    EXPECT_EQ(e.code, errc::bad_fallback);
    EXPECT_EQ(e.line, 2u);
    EXPECT_EQ(e.column, 40u);
    EXPECT_NE(e.message.find("runs into the next placeholder '%%company'"), std::string::npos)
        << e.message;
    // A fallback followed by plain text is fine.
    EXPECT_TRUE(
        compile("%%first_name|friend%%, welcome %%code%%", fields, in(context::text, "text")));
}

TEST(TemplateGrammar, AFallbackForAFieldNothingProvidesIsAWarning) {
    auto t = compile("Dear %%frist_name|friend%%", fields, in(context::text, "text"));
    ASSERT_TRUE(t);
    ASSERT_EQ(t->warnings().size(), 1u);
    EXPECT_EQ(t->warnings()[0].column, 6u);
    EXPECT_NE(t->warnings()[0].message.find("every recipient gets the fallback 'friend'"),
              std::string::npos)
        << t->warnings()[0].message;
    EXPECT_NE(t->warnings()[0].message.find("did you mean %%first_name%%?"), std::string::npos)
        << t->warnings()[0].message;
    auto known = compile("Dear %%first_name|friend%%", fields, in(context::text, "text"));
    ASSERT_TRUE(known);
    EXPECT_TRUE(known->warnings().empty());
}

TEST(TemplateGrammar, AnUnknownFieldSuggestsTheNearestOne) {
    const auto e = compile_failure("Your %%cdoe%%");
    EXPECT_EQ(e.code, errc::unknown_field);
    EXPECT_NE(e.message.find("did you mean %%code%%?"), std::string::npos) << e.message;
    const auto far = compile_failure("Your %%zzzzzzzz%%");
    EXPECT_EQ(far.message.find("did you mean"), std::string::npos) << far.message;
}

}  // namespace
}  // namespace salvo::merge
