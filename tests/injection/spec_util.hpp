#pragma once
// Test helpers: build message specs from template text, and recipients
// whose row views point into owned strings.

#include <salvo/injection/message.hpp>
#include <salvo/merge/template.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::injection::test {

inline merge::compiled_template tpl(std::string_view text, const merge::field_set& fields,
                                    merge::context where, std::string label = "template",
                                    bool html_escape = true, bool empty_is_invalid = false) {
    auto r = merge::compile(text, fields, {where, html_escape, empty_is_invalid, std::move(label)});
    if (!r) {
        ADD_FAILURE() << "compile failed: " << r.error().message;
        return {};
    }
    return *r;
}

// A message spec from text: every part optional except From and Subject.
struct spec_text {
    std::string from = "news@example.com";
    std::optional<std::string> from_name = "News";
    std::optional<std::string> reply_to, reply_to_name;
    std::string subject = "Hello";
    std::optional<std::string> text = "Hi", html, amp, mailing_id, message_id;
    std::vector<std::pair<std::string, std::string>> headers;
    bool html_escape = true;
    bool empty_is_invalid = false;
};

inline message_spec make_spec(const spec_text& t, merge::field_set fields) {
    using merge::context;
    message_spec s;
    s.fields = std::move(fields);
    const auto& f = s.fields;
    const auto T = [&](const std::string& text, context c, const char* label) {
        return tpl(text, f, c, label, t.html_escape, t.empty_is_invalid);
    };
    s.from.email = T(t.from, context::header, "From address");
    if (t.from_name) s.from.name = T(*t.from_name, context::header, "From name");
    if (t.reply_to) {
        s.reply_to.emplace();
        s.reply_to->email = T(*t.reply_to, context::header, "ReplyTo address");
        if (t.reply_to_name)
            s.reply_to->name = T(*t.reply_to_name, context::header, "ReplyTo name");
    }
    s.subject = T(t.subject, context::header, "subject");
    if (t.text) s.text_body = T(*t.text, context::text, "text body");
    if (t.html) s.html_body = T(*t.html, context::html, "html body");
    if (t.amp) s.amp_body = T(*t.amp, context::html, "amp body");
    if (t.mailing_id) s.mailing_id = T(*t.mailing_id, context::header, "MailingId");
    if (t.message_id) s.message_id = T(*t.message_id, context::header, "MessageId");
    for (const auto& [n, v] : t.headers)
        s.custom_headers.push_back({n, T(v, context::header, "header")});
    return s;
}

// A recipient whose row is owned here. An absent value is std::nullopt.
struct owned_recipient {
    std::string address, name;
    std::vector<std::optional<std::string>> values;
    std::vector<std::string_view> views;
    std::uint64_t id = 0;

    recipient view() {
        views.clear();
        for (const auto& v : values) views.push_back(v ? std::string_view(*v) : std::string_view());
        return recipient{address, name, views, id};
    }
};

inline credentials legacy_credentials() {
    return {12345, "legacy-key-123"};
}
inline credentials bearer_credentials() {
    return {777, std::string(20, 'a') + "." + std::string(40, 'b')};
}

}  // namespace salvo::injection::test
