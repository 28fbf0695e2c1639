// Expansion: escaping per context, values and fallbacks, the header guard.
#include "test_util.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

// The replaced operator new below pairs malloc with free by design; g++ 12
// cannot see that through inlining and warns at every call site.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
// Counts allocations made on this thread while armed, so a test can assert
// that the steady state of expansion allocates nothing.
thread_local bool counting = false;
thread_local std::size_t allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
    if (counting) ++allocations;
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace salvo::merge {
namespace {

using test::in;
using test::make_fields;
using test::render;

const field_set fields = make_fields({"email", "name", "note"}, {{"company", "Smith & Sons"}});

TEST(TemplateExpand, HtmlContextEscapesValuesAndFallbacks) {
    EXPECT_EQ(
        render("<p>%%note%%</p>", fields, {"", "", "<b>\"Tom\" & 'Jerry'</b>"}, in(context::html)),
        "<p>&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;</p>");
    EXPECT_EQ(render("%%note|<none>%%", fields, {"", "", ""}, in(context::html)), "&lt;none&gt;");
    EXPECT_EQ(render("%%company%%", fields, {}, in(context::html)), "Smith &amp; Sons");
}

TEST(TemplateExpand, RawSkipsHtmlEscaping) {
    EXPECT_EQ(render("%%note:raw%%", fields, {"", "", "<b>hi</b>"}, in(context::html)),
              "<b>hi</b>");
}

TEST(TemplateExpand, HtmlEscapingCanBeTurnedOff) {
    auto o = in(context::html);
    o.html_escape = false;
    EXPECT_EQ(render("%%note%%", fields, {"", "", "<b>&</b>"}, o), "<b>&</b>");
}

TEST(TemplateExpand, UrlModifierPercentEncodesUtf8AndIsNeverHtmlEscaped) {
    EXPECT_EQ(render("%%note:url%%", fields, {"", "", "a b&c/é~._-"}, in(context::html)),
              "a%20b%26c%2F%C3%A9~._-");
    EXPECT_EQ(render("%%email:url%%", fields, {"a+b@x.io"}), "a%2Bb%40x.io");
}

TEST(TemplateExpand, TextAndHeaderContextsNeverHtmlEscape) {
    EXPECT_EQ(render("%%note%%", fields, {"", "", "<&>"}, in(context::text)), "<&>");
    EXPECT_EQ(render("%%note%%", fields, {"", "", "<&>"}, in(context::header)), "<&>");
}

TEST(TemplateExpand, OutputIsJsonEscaped) {
    auto t = compile("\"%%note%%\"\n", fields, in(context::text));
    ASSERT_TRUE(t);
    std::string out;
    ASSERT_FALSE(t->expand(std::vector<std::string_view>{"", "", "a\\b\"c\td\x01"}, out));
    EXPECT_EQ(out, R"(\"a\\b\"c\td\u0001\"\n)");
}

TEST(TemplateExpand, RowValueWinsOverGlobalEvenWhenEmpty) {
    const auto f = make_fields({"company"}, {{"company", "ACME"}});
    EXPECT_EQ(render("[%%company%%]", f, {"Initech"}), "[Initech]");
    EXPECT_EQ(render("[%%company%%]", f, {""}), "[]");
    EXPECT_EQ(render("[%%company|none%%]", f, {""}), "[none]");
}

TEST(TemplateExpand, AbsentValueTakesGlobalThenFallback) {
    const auto f = make_fields({"company"}, {{"company", "ACME"}});
    const std::string_view absent{};
    EXPECT_EQ(render("[%%company%%]", f, {absent}), "[ACME]");
    EXPECT_EQ(render("[%%company%%]", f, {}), "[ACME]");  // a short row: absent
    const auto g = make_fields({"company"}, {{"company", ""}});
    EXPECT_EQ(render("[%%company|none%%]", g, {absent}), "[none]");
    const auto h = make_fields({"company"});
    EXPECT_EQ(render("[%%company|none%%]", h, {absent}), "[none]");
    EXPECT_EQ(render("[%%company%%]", h, {absent}), "[]");
}

TEST(TemplateExpand, Utf8ValuesPassThrough) {
    EXPECT_EQ(render("%%name%% ✓", fields, {"", "Zoë 😀 東京", ""}, in(context::html)),
              "Zoë 😀 東京 ✓");
}

TEST(TemplateExpand, LineBreakInHeaderValueMakesRowInvalid) {
    auto t = compile("Hi %%name%%", fields, in(context::header, "subject"));
    ASSERT_TRUE(t);
    for (std::string_view bad : {"Ann\r\nBcc: x@evil.io", "Ann\nX", "Ann\r"}) {
        std::string out = "prefix";
        const auto e = t->expand(std::vector<std::string_view>{"", bad, ""}, out);
        ASSERT_TRUE(e) << bad;
        EXPECT_EQ(e->code, errc::header_injection);
        EXPECT_EQ(out, "prefix") << "output must be restored on failure";
        const std::string msg = t->describe(*e);
        EXPECT_NE(msg.find("'name'"), std::string::npos) << msg;
        EXPECT_NE(msg.find("subject"), std::string::npos) << msg;
    }
}

TEST(TemplateExpand, LineBreakInBodyIsFine) {
    EXPECT_EQ(render("%%note%%", fields, {"", "", "a\r\nb"}, in(context::text)), "a\r\nb");
}

TEST(TemplateExpand, GlobalWithLineBreakInHeaderIsACompileError) {
    const auto f = make_fields({}, {{"company", "A\nB"}});
    auto t = compile("%%company%%", f, in(context::header, "subject"));
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, errc::global_breaks_header);
}

TEST(TemplateExpand, EmptyIsInvalidPolicy) {
    auto o = in(context::text, "text body");
    o.empty_is_invalid = true;
    auto t = compile("Hi %%name%% %%note|x%%", fields, o);
    ASSERT_TRUE(t);
    std::string out;
    const auto e = t->expand(std::vector<std::string_view>{"", "", ""}, out);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, errc::missing_value);
    EXPECT_TRUE(out.empty());
    EXPECT_FALSE(t->expand(std::vector<std::string_view>{"", "Ann", ""}, out));
    EXPECT_EQ(out, "Hi Ann x");
}

TEST(TemplateExpand, SteadyStateAllocatesNothing) {
    auto t = compile("<p>Hi %%name|friend%%, %%note%% from %%company%% %%email:url%%</p>", fields,
                     in(context::html));
    ASSERT_TRUE(t);
    const std::vector<std::string_view> row{"a@x.io", "Ann <A>", "note & more"};
    std::string out;
    ASSERT_FALSE(t->expand(row, out));  // grows the buffer once
    const std::string first = out;
    counting = true;
    allocations = 0;
    for (int i = 0; i < 1000; ++i) {
        out.clear();
        (void)t->expand(row, out);
    }
    counting = false;
    EXPECT_EQ(allocations, 0u);
    EXPECT_EQ(out, first);
}

TEST(TemplateExpand, CompiledTemplateIsMovableAndSelfContained) {
    std::string text = "Hi %%name%%, a literal that is long enough to live on the heap";
    auto t = compile(text, fields, in(context::text, "subject"));
    ASSERT_TRUE(t);
    text.assign(text.size(), 'x');  // the template must not refer to the text
    compiled_template moved = std::move(*t);
    std::string out;
    ASSERT_FALSE(moved.expand(std::vector<std::string_view>{"", "Ann", ""}, out));
    EXPECT_EQ(out, "Hi Ann, a literal that is long enough to live on the heap");
    EXPECT_EQ(moved.label(), "subject");
}

}  // namespace
}  // namespace salvo::merge
