// What an inbound message is: complaint (ARF), bounce report (DSN),
// auto-reply, unsubscribe request or human reply, first match wins; and the
// JSON a message is stored as.
#include "ascii.hpp"

#include <salvo/platform/inbound.hpp>

#include <salvo/merge/escape.hpp>

#include <array>

namespace salvo::platform {
namespace {

using detail::iequals;

bool istarts(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::size_t ifind(std::string_view s, std::string_view needle) noexcept {
    if (needle.size() > s.size()) return std::string_view::npos;
    for (std::size_t i = 0; i + needle.size() <= s.size(); ++i)
        if (iequals(s.substr(i, needle.size()), needle)) return i;
    return std::string_view::npos;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' ||
                          s.front() == '\n' || s.front() == '<' || s.front() == '"'))
        s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n' ||
            s.back() == '>' || s.back() == '"' || s.back() == '.'))
        s.remove_suffix(1);
    return s;
}

// The media type of a Content-Type value, and whether it carries
// `report-type=<type>`.
bool is_report(std::string_view content_type, std::string_view report_type) noexcept {
    if (!istarts(trim(content_type), "multipart/report")) return false;
    const auto at = ifind(content_type, "report-type=");
    if (at == std::string_view::npos) return false;
    auto v = content_type.substr(at + 12);
    v = v.substr(0, v.find(';'));
    return iequals(trim(v), report_type);
}

// The value of a `Name: value` line in an RFC 822 / RFC 3464 style text
// (the first one, folded lines not joined); empty when absent.
std::string_view field_in(std::string_view text, std::string_view name) noexcept {
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto eol = text.find('\n', pos);
        auto line = text.substr(pos, eol == std::string_view::npos ? text.npos : eol - pos);
        pos = eol == std::string_view::npos ? text.size() : eol + 1;
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        if (line.size() > name.size() && istarts(line, name) && line[name.size()] == ':')
            return trim(line.substr(name.size() + 1));
    }
    return {};
}

// "rfc822; user@example.com" → "user@example.com".
std::string_view after_type(std::string_view v) noexcept {
    const auto semi = v.find(';');
    return trim(semi == std::string_view::npos ? v : v.substr(semi + 1));
}

// The first x.y.z status code in `s` whose class is 2, 4 or 5.
std::string_view status_in(std::string_view s) noexcept {
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    for (std::size_t i = 0; i + 5 <= s.size(); ++i) {
        if ((s[i] != '2' && s[i] != '4' && s[i] != '5') || s[i + 1] != '.') continue;
        if (i > 0 && (digit(s[i - 1]) || s[i - 1] == '.')) continue;
        std::size_t j = i + 2;
        const std::size_t a = j;
        while (j < s.size() && digit(s[j]) && j - a < 3) ++j;
        if (j == a || j >= s.size() || s[j] != '.') continue;
        const std::size_t b = ++j;
        while (j < s.size() && digit(s[j]) && j - b < 3) ++j;
        if (j == b || (j < s.size() && (digit(s[j]) || s[j] == '.'))) continue;
        return s.substr(i, j - i);
    }
    return {};
}

// The bare address of "Name <user@example.com>" or "user@example.com".
std::string_view bare_address(std::string_view v) noexcept {
    const auto lt = v.rfind('<');
    if (lt != std::string_view::npos) {
        const auto gt = v.find('>', lt);
        return trim(v.substr(lt + 1, gt == std::string_view::npos ? v.npos : gt - lt - 1));
    }
    return trim(v);
}

// Ids inside a Message-ID list ("<a@b> <c@d>"), each without brackets, and
// also without its "@host" part (salvo's per-row MessageIds carry none).
void add_ids(std::string_view list, std::vector<std::string>& out) {
    std::size_t pos = 0;
    while ((pos = list.find('<', pos)) != std::string_view::npos) {
        const auto gt = list.find('>', pos);
        if (gt == std::string_view::npos) break;
        const auto id = list.substr(pos + 1, gt - pos - 1);
        if (!id.empty()) {
            out.emplace_back(id);
            const auto at = id.rfind('@');
            if (at != std::string_view::npos && at > 0) out.emplace_back(id.substr(0, at));
        }
        pos = gt + 1;
    }
}

bool from_daemon(const inbound_message& m) noexcept {
    auto daemon = [](std::string_view a) {
        a = bare_address(a);
        return istarts(a, "mailer-daemon@") || istarts(a, "postmaster@") ||
               iequals(a, "mailer-daemon");
    };
    // A DSN travels with the null reverse-path.
    return daemon(m.from.email) || daemon(m.mail_from) || m.mail_from == "<>";
}

// Where a report's machine-readable part is: an attachment of `type`, or
// else the text body (some parsers fold every text part into it).
std::string_view report_part(const inbound_message& m, std::string_view type) noexcept {
    for (const auto& a : m.attachments)
        if (istarts(trim(a.content_type), type) && !a.text.empty()) return a.text;
    return m.text_body;
}

// The attached original message's headers (message/rfc822 or
// text/rfc822-headers), if any.
std::string_view original_headers(const inbound_message& m) noexcept {
    for (const auto& a : m.attachments)
        if (istarts(trim(a.content_type), "message/rfc822") ||
            istarts(trim(a.content_type), "text/rfc822-headers"))
            return a.text;
    return {};
}

void join_original(const inbound_message& m, std::string_view report, classification& c) {
    for (const std::string_view text :
         {original_headers(m), report, std::string_view(m.text_body)}) {
        if (const auto id = field_in(text, "X-xsMessageId"); !id.empty() && c.join_ids.empty())
            c.join_ids.emplace_back(id);
        if (const auto id = field_in(text, "X-xsMailingId"); !id.empty() && c.mailing_id.empty())
            c.mailing_id = std::string(id);
    }
    if (c.mailing_id.empty()) c.mailing_id = m.mailing_id;
}

bool classify_arf(const inbound_message& m, classification& c) {
    const auto ct = m.header("Content-Type");
    const bool declared = is_report(ct, "feedback-report");
    bool has_part = false;
    for (const auto& a : m.attachments)
        has_part |= istarts(trim(a.content_type), "message/feedback-report");
    if (!declared && !has_part) return false;
    c.kind = inbound_kind::complaint;
    c.reason = declared ? "Content-Type is multipart/report; report-type=feedback-report (ARF)"
                        : "carries a message/feedback-report part (ARF)";
    const auto report = report_part(m, "message/feedback-report");
    std::string_view who = field_in(report, "Original-Rcpt-To");
    if (who.empty()) who = field_in(report, "Removal-Recipient");
    if (who.empty()) who = bare_address(field_in(original_headers(m), "To"));
    c.address = std::string(bare_address(who));
    join_original(m, report, c);
    return true;
}

// Exim's and other classic plain-text bounces: "The following address(es)
// failed:" and an indented address on the next non-empty line.
std::string_view plain_bounce_recipient(std::string_view body) noexcept {
    for (const std::string_view marker :
         {"following address(es) failed:", "could not be delivered to:",
          "delivery to the following recipient", "following recipients failed"}) {
        auto at = ifind(body, marker);
        if (at == std::string_view::npos) continue;
        auto rest = body.substr(at + marker.size());
        for (int lines = 0; lines < 4 && !rest.empty(); ++lines) {
            const auto eol = rest.find('\n');
            const auto line = trim(rest.substr(0, eol));
            if (!line.empty()) {
                const auto word = bare_address(line.substr(0, line.find_first_of(" \t")));
                if (word.find('@') != std::string_view::npos) return word;
            }
            if (eol == std::string_view::npos) break;
            rest = rest.substr(eol + 1);
        }
    }
    return {};
}

bool classify_dsn(const inbound_message& m, classification& c) {
    const auto ct = m.header("Content-Type");
    const bool declared = is_report(ct, "delivery-status");
    bool has_part = false;
    for (const auto& a : m.attachments)
        has_part |= istarts(trim(a.content_type), "message/delivery-status") ||
                    istarts(trim(a.content_type), "message/global-delivery-status");
    // The machine-readable part: an attachment, or else the text body (some
    // parsers fold every text part into it).
    std::string_view status_text = m.text_body;
    for (const auto& a : m.attachments)
        if ((istarts(trim(a.content_type), "message/delivery-status") ||
             istarts(trim(a.content_type), "message/global-delivery-status")) &&
            !a.text.empty())
            status_text = a.text;
    auto recipient = after_type(field_in(status_text, "Final-Recipient"));
    if (recipient.empty()) recipient = after_type(field_in(status_text, "Original-Recipient"));
    const bool daemon = from_daemon(m);
    std::string_view plain;
    if (!declared && !has_part) {
        if (!daemon) return false;
        // From a mailer daemon: a DSN body is what makes it a report.
        if (recipient.empty()) plain = plain_bounce_recipient(m.text_body);
        if (recipient.empty() && plain.empty()) return false;
    }
    c.reason = declared   ? "Content-Type is multipart/report; report-type=delivery-status (DSN)"
               : has_part ? "carries a message/delivery-status part (DSN)"
                          : "from " +
                                std::string(m.from.email.empty() ? std::string_view(m.mail_from)
                                                                 : std::string_view(m.from.email)) +
                                " with a delivery status body";
    std::string_view status = field_in(status_text, "Status");
    if (status.empty() || status_in(status).empty()) {
        status = status_in(m.text_body);
        if (status.empty() && !plain.empty() && ifind(m.text_body, "permanent") != m.text_body.npos)
            status = "5.0.0";
    } else {
        status = status_in(status);
    }
    c.address = std::string(recipient.empty() ? plain : bare_address(recipient));
    c.status = std::string(status);
    if (c.address.empty()) {
        c.kind = inbound_kind::delivery_report;
        c.reason += ", but no Final-Recipient could be read";
    } else if (!status.empty() && status.front() == '5') {
        c.kind = inbound_kind::hard_bounce;
        c.reason += ", Status " + c.status;
    } else if (!status.empty() && status.front() == '4') {
        c.kind = inbound_kind::soft_bounce;
        c.reason += ", Status " + c.status;
    } else {
        c.kind = inbound_kind::delivery_report;
        c.reason += status.empty() ? ", but no Status could be read" : ", Status " + c.status;
    }
    join_original(m, status_text, c);
    return true;
}

bool classify_auto_reply(const inbound_message& m, classification& c) {
    c.kind = inbound_kind::auto_reply;
    if (const auto v = m.header("Auto-Submitted"); !v.empty() && !iequals(trim(v), "no")) {
        c.reason = "Auto-Submitted: " + std::string(trim(v));
        return true;
    }
    for (const std::string_view h : {"X-Autoreply", "X-Autorespond", "X-Autoresponder"}) {
        if (!m.header(h).empty()) {
            c.reason = "has an " + std::string(h) + " header";
            return true;
        }
    }
    const auto precedence = trim(m.header("Precedence"));
    for (const std::string_view p : {"auto_reply", "bulk", "junk"}) {
        if (iequals(precedence, p)) {
            c.reason = "Precedence: " + std::string(p);
            return true;
        }
    }
    const auto subject = trim(m.subject);
    for (const std::string_view prefix :
         {"Out of Office", "Automatic reply", "Auto:", "Autoreply", "Auto-Reply", "Auto Reply",
          "Automatische Antwort", "Réponse automatique", "Abwesenheitsnotiz"}) {
        if (istarts(subject, prefix)) {
            c.reason = "the subject begins with \"" + std::string(prefix) + "\"";
            return true;
        }
    }
    return false;
}

// local+tag@domain against local@domain: true when it matches, with the tag.
bool matches_mailto(std::string_view rcpt, std::string_view mailto,
                    std::string_view& tag) noexcept {
    rcpt = bare_address(rcpt);
    mailto = bare_address(mailto);
    if (istarts(mailto, "mailto:")) mailto.remove_prefix(7);
    mailto = mailto.substr(0, mailto.find('?'));
    const auto ra = rcpt.rfind('@'), ma = mailto.rfind('@');
    if (ra == std::string_view::npos || ma == std::string_view::npos) return false;
    if (!iequals(rcpt.substr(ra), mailto.substr(ma))) return false;
    const auto rlocal = rcpt.substr(0, ra), mlocal = mailto.substr(0, ma);
    if (rlocal == mlocal) {
        tag = {};
        return true;
    }
    if (rlocal.size() > mlocal.size() && rlocal.substr(0, mlocal.size()) == mlocal &&
        rlocal[mlocal.size()] == '+') {
        tag = rlocal.substr(mlocal.size() + 1);
        return true;
    }
    return false;
}

// The text is the single word "unsubscribe" (quoted-reply lines aside).
bool just_unsubscribe(std::string_view text) noexcept {
    std::string_view first;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto eol = text.find('\n', pos);
        const auto line = trim(text.substr(pos, eol == text.npos ? text.npos : eol - pos));
        pos = eol == text.npos ? text.size() : eol + 1;
        if (line.empty()) continue;
        if (line.front() == '>' || istarts(line, "On ") || istarts(line, "--")) break;
        if (!first.empty()) return false;
        first = line;
    }
    return iequals(first, "unsubscribe");
}

std::string sender_of(const inbound_message& m) {
    if (!m.from.email.empty()) return std::string(bare_address(m.from.email));
    return std::string(bare_address(m.mail_from));
}

}  // namespace

std::string_view to_string(inbound_kind k) noexcept {
    constexpr std::array<std::string_view, inbound_kind_count> names{
        "complaint",  "hard_bounce", "soft_bounce", "delivery_report",
        "auto_reply", "unsubscribe", "reply"};
    const auto i = static_cast<std::size_t>(k);
    return i < names.size() ? names[i] : "reply";
}

classification classify(const inbound_message& m, const classify_options& o) {
    classification c;
    if (classify_arf(m, c) || classify_dsn(m, c)) return c;
    if (classify_auto_reply(m, c)) {
        c.address = sender_of(m);
        c.mailing_id = m.mailing_id;
        return c;
    }

    c.kind = inbound_kind::unsubscribe;
    c.mailing_id = m.mailing_id;
    std::vector<std::string_view> rcpts;
    if (!m.rcpt_to.empty()) rcpts.emplace_back(m.rcpt_to);
    for (const auto& a : m.to) rcpts.emplace_back(a.email);
    std::string_view tag;
    for (const auto r : rcpts) {
        for (const auto& mailto : o.unsubscribe_mailto) {
            if (matches_mailto(r, mailto, tag)) {
                c.reason = "sent to the unsubscribe address " + std::string(bare_address(r));
                c.address = sender_of(m);
                if (!tag.empty()) c.join_ids.emplace_back(tag);
                return c;
            }
        }
    }
    if (iequals(trim(m.subject), "unsubscribe") || just_unsubscribe(m.text_body)) {
        c.reason = iequals(trim(m.subject), "unsubscribe") ? "the subject is \"unsubscribe\""
                                                           : "the body is \"unsubscribe\"";
        c.address = sender_of(m);
        return c;
    }

    c.kind = inbound_kind::reply;
    c.reason = "no report, auto-reply or unsubscribe marker: a human reply";
    c.address = sender_of(m);
    if (!m.message_id.empty()) c.join_ids.push_back(m.message_id);
    add_ids(m.header("In-Reply-To"), c.join_ids);
    add_ids(m.header("References"), c.join_ids);
    // A +tag on the address replied to (Reply-To: reply+<id>@…).
    for (const auto r : rcpts) {
        const auto addr = bare_address(r);
        const auto plus = addr.find('+'), at = addr.rfind('@');
        if (plus != std::string_view::npos && at != std::string_view::npos && plus < at)
            c.join_ids.emplace_back(addr.substr(plus + 1, at - plus - 1));
    }
    return c;
}

std::string stored_json(const inbound_message& m) {
    std::string out;
    out.reserve(512 + m.text_body.size() + m.html_body.size());
    auto str = [&out](std::string_view name, std::string_view v) {
        out += '"';
        out += name;
        out += "\":\"";
        merge::append_json_escaped(out, v);
        out += "\",";
    };
    auto addr = [&](const inbound_address& a) {
        out += '{';
        str("EmailAddress", a.email);
        str("FriendlyName", a.name);
        out.back() = '}';
    };
    auto list = [&](std::string_view name, const std::vector<inbound_address>& v) {
        out += '"';
        out += name;
        out += "\":[";
        for (const auto& a : v) {
            addr(a);
            out += ',';
        }
        if (out.back() == ',') out.pop_back();
        out += "],";
    };
    auto headers = [&](const std::vector<inbound_header>& hs) {
        out += "\"CustomHeaders\":[";
        for (const auto& h : hs) {
            out += '{';
            str("Name", h.name);
            str("Value", h.value);
            out.back() = '}';
            out += ',';
        }
        if (out.back() == ',') out.pop_back();
        out += "],";
    };
    out += '{';
    str("InboundMailFrom", m.mail_from);
    str("InboundRcptTo", m.rcpt_to);
    str("InboundIpAddress", m.ip_address);
    str("ErrorLog", m.error_log);
    if (m.spam_score) {
        out += "\"SpamScore\":" + std::to_string(*m.spam_score) + ",";
    }
    str("SpamDetails", m.spam_details);
    str("ServerId", m.server_id);
    if (!m.subaccount_id.empty()) str("SubaccountId", m.subaccount_id);
    if (!m.ip_pool_id.empty()) str("IpPoolId", m.ip_pool_id);
    out += "\"Message\":{";
    str("TextCharSet", m.text_charset);
    str("HtmlCharSet", m.html_charset);
    str("Subject", m.subject);
    str("TextBody", m.text_body);
    str("HtmlBody", m.html_body);
    str("MailingId", m.mailing_id);
    str("MessageId", m.message_id);
    headers(m.headers);
    list("To", m.to);
    list("Cc", m.cc);
    list("Bcc", m.bcc);
    out += "\"From\":";
    addr(m.from);
    out += ',';
    list("ReplyTo", m.reply_to);
    for (const bool embedded : {false, true}) {
        out += embedded ? "\"EmbeddedMedia\":[" : "\"Attachments\":[";
        for (const auto& a : m.attachments) {
            if (a.embedded != embedded) continue;
            out += '{';
            str("Name", a.name);
            str("ContentType", a.content_type);
            str("ContentId", a.content_id);
            headers(a.headers);
            out += "\"Size\":" + std::to_string(a.size) + ",";
            str("Sha256", a.sha256);
            if (!a.error.empty()) str("Error", a.error);
            out.back() = '}';
            out += ',';
        }
        if (out.back() == ',') out.pop_back();
        out += "],";
    }
    out.back() = '}';
    out += ",\"Extra\":";
    out += m.extra;
    out += '}';
    return out;
}

}  // namespace salvo::platform
