#include <salvo/injection/message.hpp>

#include <salvo/merge/escape.hpp>

#include <string>

namespace salvo::injection {
namespace {

error_info bad(errc code, std::string message) {
    return {make_error_code(code), std::move(message)};
}

bool wrong_context(const merge::compiled_template& t, merge::context want) {
    return t.options().where != want;
}

const char* context_name(merge::context c) {
    switch (c) {
        case merge::context::text:
            return "text";
        case merge::context::html:
            return "html";
        case merge::context::header:
            return "header";
    }
    return "?";
}

}  // namespace

bool is_bearer_key(std::string_view key) noexcept {
    return key.size() == 61 && key[20] == '.' && key.find('.') == 20 &&
           key.find('.', 21) == std::string_view::npos;
}

auth_form credentials::form() const noexcept {
    return is_bearer_key(api_key) ? auth_form::bearer : auth_form::body_api_key;
}

std::string credentials::authorization() const {
    if (form() != auth_form::bearer) return {};
    return "Bearer " + api_key;
}

boost::system::result<void, error_info> validate(const credentials& c) {
    if (c.server_id == 0) return bad(errc::bad_credentials, "credentials: ServerId is 0");
    if (c.api_key.empty()) return bad(errc::bad_credentials, "credentials: the API key is empty");
    for (std::size_t i = 0; i < c.api_key.size(); ++i) {
        const auto ch = static_cast<unsigned char>(c.api_key[i]);
        if (ch <= 0x20 || ch >= 0x7f) {
            // The position helps; the key itself is never quoted.
            return bad(errc::bad_credentials,
                       "credentials: the API key holds a space, control or non-ASCII "
                       "character at position " +
                           std::to_string(i + 1) + " of " + std::to_string(c.api_key.size()));
        }
    }
    return {};
}

boost::system::result<void, error_info> validate(const message_spec& spec, const limits& lim) {
    const auto need = [&](const merge::compiled_template& t, merge::context want,
                          std::string_view what) -> std::optional<error_info> {
        if (!wrong_context(t, want)) return std::nullopt;
        return bad(errc::bad_message, std::string(what) + " must be compiled for context " +
                                          context_name(want) + ", not " +
                                          context_name(t.options().where));
    };
    std::optional<error_info> e;
    if ((e = need(spec.from.email, merge::context::header, "From address"))) return *e;
    if (spec.from.name && (e = need(*spec.from.name, merge::context::header, "From name")))
        return *e;
    if (spec.reply_to) {
        if ((e = need(spec.reply_to->email, merge::context::header, "ReplyTo address"))) return *e;
        if (spec.reply_to->name &&
            (e = need(*spec.reply_to->name, merge::context::header, "ReplyTo name")))
            return *e;
    }
    if ((e = need(spec.subject, merge::context::header, "Subject"))) return *e;
    if (spec.text_body && (e = need(*spec.text_body, merge::context::text, "TextBody"))) return *e;
    if (spec.html_body && (e = need(*spec.html_body, merge::context::html, "HtmlBody"))) return *e;
    if (spec.amp_body && (e = need(*spec.amp_body, merge::context::html, "AmpBody"))) return *e;
    if (spec.mailing_id && (e = need(*spec.mailing_id, merge::context::header, "MailingId")))
        return *e;
    if (spec.message_id && (e = need(*spec.message_id, merge::context::header, "MessageId")))
        return *e;
    if (spec.from.email.segments().empty())
        return bad(errc::bad_message, "the message has no From address");
    if (spec.subject.segments().empty())
        return bad(errc::bad_message, "the message has an empty Subject");
    if (!spec.text_body && !spec.html_body) {
        return bad(errc::bad_message, spec.amp_body
                                          ? "an AmpBody needs a TextBody or an HtmlBody too"
                                          : "the message has neither a TextBody nor an HtmlBody");
    }
    if (merge::has_line_break(spec.charset) || spec.charset.find('"') != std::string::npos)
        return bad(errc::bad_message, "CharSet holds a quote or a line break");
    for (std::size_t i = 0; i < spec.custom_headers.size(); ++i) {
        const auto& h = spec.custom_headers[i];
        const auto where = "custom header " + std::to_string(i + 1);
        if (h.name.empty()) return bad(errc::bad_message, where + " has an empty name");
        if (merge::has_line_break(h.name) || h.name.find(':') != std::string::npos)
            return bad(errc::bad_message, where + " name holds ':' or a line break");
        if ((e = need(h.value, merge::context::header, where + " ('" + h.name + "') value")))
            return *e;
    }
    for (std::size_t i = 0; i < spec.attachments.size(); ++i) {
        const auto& a = spec.attachments[i];
        const auto where = "attachment " + std::to_string(i + 1);
        if (a.name.empty()) return bad(errc::bad_message, where + " has no name");
        for (const char ch : a.content_base64) {
            const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                            (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=';
            if (!ok)
                return bad(errc::bad_message, where + " ('" + a.name + "') content is not base64");
        }
    }
    if (spec.metadata.size() > lim.max_metadata) {
        return bad(errc::bad_message, "the message has " + std::to_string(spec.metadata.size()) +
                                          " Metadata pairs; the API takes at most " +
                                          std::to_string(lim.max_metadata));
    }
    if (spec.tags.size() > lim.max_tags) {
        return bad(errc::bad_message, "the message has " + std::to_string(spec.tags.size()) +
                                          " Tags; the API takes at most " +
                                          std::to_string(lim.max_tags));
    }
    std::size_t bytes = 0;
    for (const auto& m : spec.metadata) bytes += m.key.size() + m.value.size();
    for (const auto& t : spec.tags) bytes += t.size();
    if (bytes > lim.max_metadata_and_tags_bytes) {
        return bad(errc::bad_message, "Metadata and Tags hold " + std::to_string(bytes) +
                                          " bytes together; the API takes at most " +
                                          std::to_string(lim.max_metadata_and_tags_bytes));
    }
    return {};
}

}  // namespace salvo::injection
