// The inbound mail the emulator posts back (options::inbound): which email
// gets which message, each message shaped as the Inbound API posts real ones
// (all original headers in CustomHeaders, report parts as attachments).

#include "events.hpp"

#include <salvo/emulator/inbound.hpp>
#include <salvo/merge/escape.hpp>

#include <openssl/evp.h>
#include <strings.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <random>
#include <utility>

namespace salvo::emulator {
namespace {

struct header {
    std::string name, value;
};
struct part {
    std::string name, content_type, content;  // content raw, base64-encoded when posted
};
struct message {
    std::string mail_from, rcpt_to;  // the envelope
    std::string from, from_name, to, subject, text;
    std::vector<header> headers;
    std::vector<part> attachments;
};

std::string base64(const std::string& in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

void str(std::string& out, const char* name, std::string_view v) {
    out += '"';
    out += name;
    out += "\":\"";
    merge::append_json_escaped(out, v);
    out += '"';
}

void headers_json(std::string& out, const std::vector<header>& hs) {
    out += "\"CustomHeaders\":[";
    for (std::size_t i = 0; i < hs.size(); ++i) {
        if (i) out += ',';
        out += '{';
        str(out, "Name", hs[i].name);
        out += ',';
        str(out, "Value", hs[i].value);
        out += '}';
    }
    out += ']';
}

std::string to_json(const inbound_options& o, const message& m) {
    std::string out = "{";
    str(out, "SecretKey", o.secret_key);
    out += ',';
    str(out, "InboundMailFrom", m.mail_from);
    out += ',';
    str(out, "InboundRcptTo", m.rcpt_to);
    out +=
        ",\"InboundIpAddress\":\"192.0.2.25\",\"ErrorLog\":null,\"SpamScore\":0.1,"
        "\"SpamDetails\":\"\",\"Message\":{\"TextCharSet\":\"utf-8\",\"HtmlCharSet\":null,";
    str(out, "Subject", m.subject);
    out += ',';
    str(out, "TextBody", m.text);
    out += ",\"HtmlBody\":null,\"MailingId\":null,\"MessageId\":null,";
    headers_json(out, m.headers);
    out += ",\"To\":[{";
    str(out, "EmailAddress", m.to);
    out += ",\"FriendlyName\":null}],\"Cc\":[],\"Bcc\":[],\"From\":{";
    str(out, "EmailAddress", m.from);
    out += ',';
    str(out, "FriendlyName", m.from_name);
    out += "},\"ReplyTo\":null,\"Attachments\":[";
    for (std::size_t i = 0; i < m.attachments.size(); ++i) {
        const auto& a = m.attachments[i];
        if (i) out += ',';
        out += '{';
        str(out, "Name", a.name);
        out += ',';
        str(out, "ContentType", a.content_type);
        out += ',';
        str(out, "Content", base64(a.content));
        out += ",\"CustomHeaders\":[],\"ContentId\":null}";
    }
    out += "],\"EmbeddedMedia\":[]}}";
    return out;
}

std::string rfc5322_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

std::string domain_of(std::string_view address) {
    const auto at = address.rfind('@');
    return std::string(at == std::string_view::npos ? "emulator.invalid" : address.substr(at + 1));
}

// The Message-ID the email went out with: its MessageId at the sender's
// domain (the receiver joins on it with or without the @host).
std::string sent_message_id(const recorded_email& e) {
    const std::string id = e.message_id.empty()
                               ? "emu-" + std::to_string(e.request) + "-" + std::to_string(e.index)
                               : e.message_id;
    return "<" + id + "@" + domain_of(e.from) + ">";
}

// The headers of the email as sent (for the quoted part of reports).
std::string original_headers(const recorded_email& e, const std::string& date) {
    std::string out = "From: " + e.from + "\r\nTo: " + e.to + "\r\nSubject: " + e.subject +
                      "\r\nDate: " + date + "\r\nMessage-ID: " + sent_message_id(e) + "\r\n";
    for (const auto& h : e.headers) out += h.name + ": " + h.value + "\r\n";
    return out;
}

// The Received/Date/Message-ID headers every arriving message has.
std::vector<header> arrival_headers(const std::string& from, const std::string& to,
                                    const std::string& subject, const std::string& date,
                                    const recorded_email& e, const char* id_tag) {
    const std::string host = "mx." + domain_of(from);
    return {{"Received", "from " + host + " (" + host +
                             " [192.0.2.25]) by inbound.emulator.invalid "
                             "with ESMTPS; " +
                             date},
            {"Date", date},
            {"From", from},
            {"To", to},
            {"Subject", subject},
            {"Message-ID", "<" + std::string(id_tag) + "-" + std::to_string(e.request) + "-" +
                               std::to_string(e.index) + "@" + domain_of(from) + ">"},
            {"MIME-Version", "1.0"}};
}

}  // namespace

const char* to_string(inbound_kind k) noexcept {
    switch (k) {
        case inbound_kind::none:
            return "none";
        case inbound_kind::reply:
            return "reply";
        case inbound_kind::auto_reply:
            return "auto_reply";
        case inbound_kind::dsn:
            return "dsn";
        case inbound_kind::arf:
            return "arf";
        case inbound_kind::unsubscribe_reply:
            return "unsubscribe_reply";
    }
    return "none";
}

inbound_kind inbound_fate(const inbound_options& o, std::string_view to) {
    // Its own stream (salted), so turning inbound on does not change the
    // events' draws for the same seed and address.
    std::seed_seq seq{o.seed, std::hash<std::string_view>{}(to), std::uint64_t{0x1b0}};
    std::mt19937_64 rng(seq);
    const double r = std::uniform_real_distribution<double>(0, 1)(rng);
    double edge = 0;
    const std::pair<double, inbound_kind> order[] = {
        {o.reply_rate, inbound_kind::reply},
        {o.auto_reply_rate, inbound_kind::auto_reply},
        {o.dsn_rate, inbound_kind::dsn},
        {o.arf_rate, inbound_kind::arf},
        {o.unsubscribe_reply_rate, inbound_kind::unsubscribe_reply}};
    for (const auto& [rate, kind] : order) {
        edge += rate;
        if (rate > 0 && r < edge) return kind;
    }
    return inbound_kind::none;
}

std::string unsubscribe_mailto(const recorded_email& e) {
    for (const auto& h : e.headers) {
        if (h.name.size() != 16 || strncasecmp(h.name.c_str(), "List-Unsubscribe", 16) != 0)
            continue;
        const auto at = h.value.find("<mailto:");
        if (at == std::string::npos) return {};
        const auto begin = at + 8;
        const auto end = h.value.find_first_of("?>", begin);
        if (end == std::string::npos) return {};
        return h.value.substr(begin, end - begin);
    }
    return {};
}

std::string inbound_post(const inbound_options& o, const recorded_email& e, inbound_kind k) {
    const std::string date = rfc5322_now();
    const std::string sent_id = sent_message_id(e);
    const std::string sender = e.reply_to.empty() ? e.from : e.reply_to;
    message m;
    switch (k) {
        case inbound_kind::none:
            return {};
        case inbound_kind::reply: {
            m.mail_from = m.from = e.to;
            m.from_name = e.to_name;
            m.rcpt_to = m.to = sender;
            m.subject = "Re: " + e.subject;
            m.text =
                "Thanks, that is just what I was looking for. Could you send me the price "
                "list too?\r\n\r\nOn " +
                date + ", " + e.from + " wrote:\r\n> " + e.subject + "\r\n";
            m.headers = arrival_headers(m.from, m.to, m.subject, date, e, "reply");
            m.headers.push_back({"In-Reply-To", sent_id});
            m.headers.push_back({"References", sent_id});
            m.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
            break;
        }
        case inbound_kind::auto_reply: {
            // Outlook / Microsoft 365's shape.
            m.mail_from = m.from = e.to;
            m.from_name = e.to_name;
            m.rcpt_to = m.to = sender;
            m.subject = "Automatic reply: " + e.subject;
            m.text = "I am out of the office until Monday with limited access to email.\r\n";
            m.headers = arrival_headers(m.from, m.to, m.subject, date, e, "auto");
            m.headers.push_back({"In-Reply-To", sent_id});
            m.headers.push_back({"Auto-Submitted", "auto-replied"});
            m.headers.push_back({"X-Auto-Response-Suppress", "All"});
            m.headers.push_back({"X-MS-Exchange-Inbox-Rules-Loop", e.to});
            m.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
            break;
        }
        case inbound_kind::dsn: {
            // Postfix's shape: the explanation in the text, the machine part
            // and the returned headers as attachments.
            const std::string mta = "mx." + domain_of(e.to);
            m.mail_from = "";
            m.from = "MAILER-DAEMON@" + mta;
            m.from_name = "Mail Delivery System";
            m.rcpt_to = m.to = e.from;
            m.subject = "Undelivered Mail Returned to Sender";
            m.text = "This is the mail system at host " + mta +
                     ".\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"
                     "be delivered to one or more recipients.\r\n\r\n<" +
                     e.to + ">: host " + mta + " said: 550 5.1.1 <" + e.to +
                     ">: Recipient address rejected: User unknown in local recipient table\r\n";
            m.headers = arrival_headers(m.from, m.to, m.subject, date, e, "dsn");
            m.headers.push_back({"Auto-Submitted", "auto-replied"});
            m.headers.push_back(
                {"Content-Type",
                 "multipart/report; report-type=delivery-status; boundary=\"dsn-b\""});
            m.attachments.push_back(
                {"", "message/delivery-status",
                 "Reporting-MTA: dns; " + mta + "\r\nArrival-Date: " + date +
                     "\r\n\r\nFinal-Recipient: rfc822; " + e.to +
                     "\r\nOriginal-Recipient: rfc822;" + e.to +
                     "\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; " + mta +
                     "\r\nDiagnostic-Code: smtp; 550 5.1.1 <" + e.to +
                     ">: Recipient address rejected: User unknown in local recipient table\r\n"});
            m.attachments.push_back({"", "text/rfc822-headers", original_headers(e, date)});
            break;
        }
        case inbound_kind::arf: {
            const std::string fbl = "fbl.mailbox." + domain_of(e.to);
            m.mail_from = m.from = "feedback@" + fbl;
            m.from_name = "Feedback Loop";
            m.rcpt_to = m.to = "fbl@" + domain_of(e.from);
            m.subject = "Complaint about message from " + domain_of(e.from);
            m.text =
                "This is an email abuse report for an email message received from IP "
                "192.0.2.10 on " +
                date + ".\r\n";
            m.headers = arrival_headers(m.from, m.to, m.subject, date, e, "arf");
            m.headers.push_back(
                {"Content-Type",
                 "multipart/report; report-type=feedback-report; boundary=\"arf-b\""});
            m.attachments.push_back(
                {"", "message/feedback-report",
                 "Feedback-Type: abuse\r\nUser-Agent: emulator-fbl/1.0\r\n"
                 "Version: 1\r\nOriginal-Mail-From: <" +
                     e.from + ">\r\nOriginal-Rcpt-To: <" + e.to + ">\r\nArrival-Date: " + date +
                     "\r\nSource-IP: 192.0.2.10\r\nReported-Domain: " + domain_of(e.from) +
                     "\r\n"});
            m.attachments.push_back(
                {"", "message/rfc822", original_headers(e, date) + "\r\n" + e.text + "\r\n"});
            break;
        }
        case inbound_kind::unsubscribe_reply: {
            const auto mailto = unsubscribe_mailto(e);
            if (mailto.empty()) return {};
            m.mail_from = m.from = e.to;
            m.from_name = e.to_name;
            m.rcpt_to = m.to = mailto;
            m.subject = "unsubscribe";
            m.text = "unsubscribe\r\n";
            m.headers = arrival_headers(m.from, m.to, m.subject, date, e, "unsub");
            m.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
            break;
        }
    }
    return to_json(o, m);
}

namespace detail {

post_target inbound_target(const inbound_options& o) {
    post_target t;
    t.url = o.url;
    t.flag = "--inbound-url";
    t.handshake = "Type=Validation&SecretKey=";
    merge::append_url_encoded(t.handshake, o.secret_key);
    t.handshake_type = "application/x-www-form-urlencoded";
    t.content_type = "application/json";
    t.validation_key = o.validation_key;
    t.connections = o.connections;
    return t;
}

post_batch make_inbound(const inbound_options& o, std::vector<recorded_email>& emails) {
    post_batch batch;
    for (auto& e : emails) {
        const auto k = inbound_fate(o, e.to);
        if (k == inbound_kind::none) continue;
        auto body = inbound_post(o, e, k);
        if (body.empty()) continue;
        batch.bodies.push_back(std::move(body));
        ++batch.states[to_string(k)];
        e.inbound = to_string(k);
    }
    return batch;
}

}  // namespace detail
}  // namespace salvo::emulator
