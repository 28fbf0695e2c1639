// The Inbound API parser and the classifier, on messages shaped like the
// ones real mail servers send, with their headers as the Inbound API
// delivers them (Message.CustomHeaders).
#include <salvo/platform/error.hpp>
#include <salvo/platform/inbound.hpp>

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace salvo::platform {
namespace {

std::string b64(std::string_view in) {
    static constexpr char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
        out += a[(v >> 6) & 63];
        out += a[v & 63];
    }
    if (in.size() - i == 1) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
        out += "==";
    } else if (in.size() - i == 2) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8);
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
        out += a[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

std::string json_str(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// An Inbound API post as SocketLabs sends it.
struct post {
    std::string mail_from = "sender@example.org", rcpt_to = "news@news.example.com";
    std::string from = "sender@example.org", subject = "Hello", text;
    std::vector<std::pair<std::string, std::string>> headers;
    struct part {
        std::string name, type, content;
    };
    std::vector<part> attachments;

    std::string json(std::string_view secret = "s3cret") const {
        std::string h;
        for (const auto& [n, v] : headers)
            h += (h.empty() ? "" : ",") + std::string("{\"Name\":") + json_str(n) +
                 ",\"Value\":" + json_str(v) + "}";
        std::string a;
        for (const auto& p : attachments)
            a += (a.empty() ? "" : ",") + std::string("{\"Name\":") + json_str(p.name) +
                 ",\"ContentType\":" + json_str(p.type) + ",\"Content\":\"" + b64(p.content) +
                 "\",\"CustomHeaders\":[],\"ContentId\":null}";
        return "{\"SecretKey\":" + json_str(secret) +
               ",\"InboundMailFrom\":" + json_str(mail_from) +
               ",\"InboundRcptTo\":" + json_str(rcpt_to) +
               ",\"InboundIpAddress\":\"192.0.2.1\",\"ErrorLog\":null,\"SpamScore\":0.4,"
               "\"SpamDetails\":\"\",\"Message\":{\"TextCharSet\":\"utf-8\",\"HtmlCharSet\":null,"
               "\"Subject\":" +
               json_str(subject) + ",\"TextBody\":" + json_str(text) +
               ",\"HtmlBody\":null,\"MailingId\":null,\"MessageId\":null,\"CustomHeaders\":[" + h +
               "],\"To\":[{\"EmailAddress\":" + json_str(rcpt_to) +
               ",\"FriendlyName\":null}],\"Cc\":[],\"Bcc\":[],\"From\":{\"EmailAddress\":" +
               json_str(from) + ",\"FriendlyName\":null},\"ReplyTo\":null,\"Attachments\":[" + a +
               "],\"EmbeddedMedia\":[]}}";
    }
};

inbound_message parse(const std::string& json) {
    inbound_parser p;
    inbound_message m;
    std::string reason;
    const auto ec = p.parse(json, m, nullptr, &reason);
    EXPECT_FALSE(ec) << reason;
    return m;
}

classification classify_post(const post& p, std::vector<std::string> mailto = {}) {
    classify_options o;
    o.unsubscribe_mailto = std::move(mailto);
    return classify(parse(p.json()), o);
}

post postfix_bounce() {
    post p;
    p.mail_from = "";
    p.from = "MAILER-DAEMON@mail.news.example.com";
    p.subject = "Undelivered Mail Returned to Sender";
    p.headers = {{"Received", "from mail.news.example.com (mail.news.example.com [192.0.2.5])"},
                 {"Message-ID", "<20260101101010.4B2C1C0123@mail.news.example.com>"},
                 {"Auto-Submitted", "auto-replied"},
                 {"MIME-Version", "1.0"},
                 {"Content-Type",
                  "multipart/report; "
                  "report-type=delivery-status;\r\n\tboundary=\"4B2C1C0123.1767262210/"
                  "mail.news.example.com\""}};
    p.text =
        "This is the mail system at host mail.news.example.com.\n\nI'm sorry to have to inform "
        "you that your message could not\nbe delivered to one or more recipients.\n\n"
        "<bob@example.org>: host mx.example.org[192.0.2.7] said: 550 5.1.1\n    <bob@example.org>: "
        "Recipient address rejected: User unknown (in reply to RCPT TO command)\n";
    p.attachments = {
        {"", "message/delivery-status",
         "Reporting-MTA: dns; mail.news.example.com\nX-Postfix-Queue-ID: 4B2C1C0123\n"
         "Arrival-Date: Thu,  1 Jan 2026 10:10:09 +0000 (UTC)\n\n"
         "Final-Recipient: rfc822; bob@example.org\nOriginal-Recipient: rfc822;bob@example.org\n"
         "Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.example.org\n"
         "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: Recipient address rejected\n"},
        {"", "text/rfc822-headers",
         "From: news@news.example.com\nTo: bob@example.org\nSubject: Spring sale\n"
         "X-xsMessageId: camp-1-bob@example.org\nX-xsMailingId: camp-1\n"}};
    return p;
}

TEST(InboundClassifier, PostfixDsnIsAHardBounceOfItsFinalRecipient) {
    const auto c = classify_post(postfix_bounce());
    EXPECT_EQ(c.kind, inbound_kind::hard_bounce) << c.reason;
    EXPECT_EQ(c.address, "bob@example.org");
    EXPECT_EQ(c.status, "5.1.1");
    EXPECT_NE(c.reason.find("delivery-status"), std::string::npos) << c.reason;
    ASSERT_FALSE(c.join_ids.empty());
    EXPECT_EQ(c.join_ids.front(), "camp-1-bob@example.org");
    EXPECT_EQ(c.mailing_id, "camp-1");
}

TEST(InboundClassifier, DelayedDsnIsASoftBounce) {
    auto p = postfix_bounce();
    p.attachments[0].content =
        "Reporting-MTA: dns; mail.news.example.com\n\nFinal-Recipient: rfc822; slow@example.org\n"
        "Action: delayed\nStatus: 4.4.1\nDiagnostic-Code: X-Postfix; connect to mx: timed out\n";
    const auto c = classify_post(p);
    EXPECT_EQ(c.kind, inbound_kind::soft_bounce) << c.reason;
    EXPECT_EQ(c.address, "slow@example.org");
    EXPECT_EQ(c.status, "4.4.1");
}

TEST(InboundClassifier, ClassicEximBounceFromMailerDaemonIsAHardBounce) {
    post p;
    p.mail_from = "<>";
    p.from = "Mailer-Daemon@exim.example.com";
    p.subject = "Mail delivery failed: returning message to sender";
    p.headers = {{"Message-ID", "<E1vXyZ-000123-AB@exim.example.com>"},
                 {"X-Failed-Recipients", "carol@example.com"},
                 {"Auto-Submitted", "auto-replied"},
                 {"Content-Type", "text/plain; charset=us-ascii"}};
    p.text =
        "This message was created automatically by mail delivery software.\n\nA message that you "
        "sent could not be delivered to one or more of its\nrecipients. This is a permanent "
        "error. The following address(es) failed:\n\n  carol@example.com\n    host mx.example.com "
        "[192.0.2.9]\n    SMTP error from remote mail server after RCPT TO:<carol@example.com>:\n"
        "    550 5.1.1 <carol@example.com>: Recipient address rejected: User unknown\n";
    const auto c = classify_post(p);
    EXPECT_EQ(c.kind, inbound_kind::hard_bounce) << c.reason;
    EXPECT_EQ(c.address, "carol@example.com");
    EXPECT_EQ(c.status, "5.1.1");
}

TEST(InboundClassifier, Microsoft365NdrWithTheStatusInTheTextBody) {
    post p;
    p.mail_from = "";
    p.from = "postmaster@contoso.onmicrosoft.com";
    p.subject = "Undeliverable: Spring sale";
    p.headers = {{"Content-Type",
                  "multipart/report; report-type=delivery-status; "
                  "boundary=\"_000_BN8PR_\""},
                 {"X-MS-Exchange-Message-Is-Ndr", ""},
                 {"Content-Language", "en-US"}};
    // The parsed post folds the delivery-status part into the text body.
    p.text =
        "Your message to dave@contoso.com couldn't be delivered.\ndave wasn't found at "
        "contoso.com.\n\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
        "Recipient not found by SMTP address lookup'\n\nReporting-MTA: "
        "dns;BN8PR12MB3456.namprd12.prod.outlook.com\nReceived-From-MTA: "
        "dns;mail.news.example.com\n\nFinal-Recipient: rfc822;dave@contoso.com\nAction: "
        "failed\nStatus: 5.1.10\nDiagnostic-Code: smtp;550 5.1.10 "
        "RESOLVER.ADR.RecipientNotFound\n";
    const auto c = classify_post(p);
    EXPECT_EQ(c.kind, inbound_kind::hard_bounce) << c.reason;
    EXPECT_EQ(c.address, "dave@contoso.com");
    EXPECT_EQ(c.status, "5.1.10");
}

TEST(InboundClassifier, ArfComplaintNamesTheComplainedAboutRecipient) {
    post p;
    p.from = "feedback@arf.mail.yahoo.com";
    p.mail_from = "feedback@arf.mail.yahoo.com";
    p.subject = "FW: Spring sale";
    p.headers = {{"Content-Type",
                  "multipart/report; report-type=feedback-report; boundary=\"----=_Part_1\""}};
    p.text = "This is an email abuse report for an email message received from IP 192.0.2.5";
    p.attachments = {{"", "message/feedback-report",
                      "Feedback-Type: abuse\nUser-Agent: Yahoo!-Mail-Feedback/2.0\nVersion: "
                      "1\nOriginal-Mail-From: <bounce@news.example.com>\nOriginal-Rcpt-To: "
                      "erin@yahoo.com\nArrival-Date: Thu, 01 Jan 2026 10:10:09 +0000\n"},
                     {"", "message/rfc822",
                      "From: news@news.example.com\nTo: erin@yahoo.com\nX-xsMessageId: "
                      "camp-1-erin@yahoo.com\nX-xsMailingId: camp-1\nSubject: Spring "
                      "sale\n\nbody\n"}};
    const auto c = classify_post(p);
    EXPECT_EQ(c.kind, inbound_kind::complaint) << c.reason;
    EXPECT_EQ(c.address, "erin@yahoo.com");
    ASSERT_FALSE(c.join_ids.empty());
    EXPECT_EQ(c.join_ids.front(), "camp-1-erin@yahoo.com");
    EXPECT_EQ(c.mailing_id, "camp-1");
}

TEST(InboundClassifier, ArfWithoutOriginalRcptToUsesTheReportedMessagesTo) {
    post p;
    p.from = "staff@hotmail.com";
    p.headers = {{"Content-Type", "multipart/report; report-type=feedback-report"}};
    p.attachments = {
        {"", "message/feedback-report", "Feedback-Type: abuse\nVersion: 1\n"},
        {"", "message/rfc822", "From: n@news.example.com\nTo: Fay <fay@hotmail.com>\n\nx"}};
    const auto c = classify_post(p);
    EXPECT_EQ(c.kind, inbound_kind::complaint);
    EXPECT_EQ(c.address, "fay@hotmail.com");
}

TEST(InboundClassifier, GmailVacationIsAnAutoReply) {
    post p;
    p.from = "hank@gmail.com";
    p.subject = "Re: Spring sale";
    p.headers = {{"Auto-Submitted", "auto-replied"},
                 {"In-Reply-To", "<camp-1-hank@gmail.com@news.example.com>"},
                 {"Precedence", "bulk"}};
    p.text = "I am away until Monday.";
    const auto c = classify_post(p);
    EXPECT_EQ(c.kind, inbound_kind::auto_reply);
    EXPECT_EQ(c.reason, "Auto-Submitted: auto-replied");
}

TEST(InboundClassifier, OutlookAutomaticReplyIsAnAutoReplyByItsSubject) {
    post p;
    p.from = "ivy@outlook.com";
    p.subject = "Automatic reply: Spring sale";
    p.headers = {{"X-MS-Has-Attach", ""}, {"Thread-Topic", "Spring sale"}};
    p.text = "Thanks for your message. I'm out of the office.";
    const auto c = classify_post(p);
    EXPECT_EQ(c.kind, inbound_kind::auto_reply);
    EXPECT_NE(c.reason.find("Automatic reply"), std::string::npos);
}

TEST(InboundClassifier, AutoSubmittedNoIsNotAnAutoReply) {
    post p;
    p.headers = {{"Auto-Submitted", "no"}};
    p.text = "Sounds good, see you then.";
    EXPECT_EQ(classify_post(p).kind, inbound_kind::reply);
}

TEST(InboundClassifier, MailToTheUnsubscribeAddressWithATagUnsubscribesTheSender) {
    post p;
    p.from = "jack@example.net";
    p.rcpt_to = "unsubscribe+camp-1-jack@news.example.com";
    p.subject = "";
    const auto c = classify_post(p, {"unsubscribe@news.example.com"});
    EXPECT_EQ(c.kind, inbound_kind::unsubscribe) << c.reason;
    EXPECT_EQ(c.address, "jack@example.net");
    ASSERT_EQ(c.join_ids.size(), 1u);
    EXPECT_EQ(c.join_ids[0], "camp-1-jack");
}

TEST(InboundClassifier, ASubjectOrBodyOfJustUnsubscribeUnsubscribes) {
    post p;
    p.from = "kim@example.net";
    p.subject = "Re: Spring sale";
    p.text = "  Unsubscribe\r\n\r\nOn Thu, Jan 1 news wrote:\n> Spring sale\n";
    EXPECT_EQ(classify_post(p).kind, inbound_kind::unsubscribe);
    p.text = "Please unsubscribe my colleague, not me.";
    EXPECT_EQ(classify_post(p).kind, inbound_kind::reply) << "a sentence is not a request";
    p.subject = "UNSUBSCRIBE";
    EXPECT_EQ(classify_post(p).kind, inbound_kind::unsubscribe);
}

TEST(InboundClassifier, AHumanReplyCarriesItsJoinIds) {
    post p;
    p.from = "lea@example.net";
    p.subject = "Re: Spring sale";
    p.headers = {{"In-Reply-To", "<camp-1-lea@example.net@news.example.com>"},
                 {"References", "<older@x> <camp-1-lea@example.net@news.example.com>"}};
    p.text = "Do you ship to Norway?";
    const auto c = classify_post(p);
    EXPECT_EQ(c.kind, inbound_kind::reply);
    EXPECT_EQ(c.address, "lea@example.net");
    ASSERT_GE(c.join_ids.size(), 2u);
    EXPECT_EQ(c.join_ids[0], "camp-1-lea@example.net@news.example.com");
    EXPECT_EQ(c.join_ids[1], "camp-1-lea@example.net");
}

TEST(InboundClassifier, AReplyFromAPersonSayingPermanentIsNotABounce) {
    post p;
    p.text = "The following address(es) failed: nothing, this is a permanent joke.";
    EXPECT_EQ(classify_post(p).kind, inbound_kind::reply);
}

TEST(InboundParser, NamesAreCaseInsensitiveAndUnknownFieldsAreKept) {
    const std::string json =
        R"({"secretkey":"s","MESSAGE":{"subject":"Hi","CC":[{"emailaddress":"c@x.org"}],)"
        R"("BCC":[{"EmailAddress":"b@x.org"}],"Novel":{"a":[1,2]}},"ServerId":12345,)"
        R"("FutureField":"kept","SpamScore":"1.5"})";
    const auto m = parse(json);
    EXPECT_EQ(m.secret_key, "s");
    EXPECT_EQ(m.subject, "Hi");
    ASSERT_EQ(m.cc.size(), 1u);
    EXPECT_EQ(m.cc[0].email, "c@x.org");
    ASSERT_EQ(m.bcc.size(), 1u);
    EXPECT_EQ(m.server_id, "12345");
    ASSERT_TRUE(m.spam_score);
    EXPECT_DOUBLE_EQ(*m.spam_score, 1.5);
    EXPECT_NE(m.extra.find(R"("Message.Novel":{"a":[1,2]})"), std::string::npos) << m.extra;
    EXPECT_NE(m.extra.find(R"("FutureField":"kept")"), std::string::npos) << m.extra;
    const auto stored = stored_json(parse(json));
    EXPECT_EQ(stored.find("\"s\""), std::string::npos) << "the SecretKey is never stored";
    EXPECT_NE(stored.find("FutureField"), std::string::npos);
}

// Collects what the parser decodes.
struct collect final : attachment_sink {
    std::vector<std::string> files;
    void begin(inbound_attachment&) override { files.emplace_back(); }
    void write(const unsigned char* d, std::size_t n) override {
        files.back().append(reinterpret_cast<const char*>(d), n);
    }
    void end(inbound_attachment&) override {}
};

TEST(InboundParser, DecodesAttachmentsWithJsonEscapesAndLineBreaks) {
    std::string bytes;
    for (int i = 0; i < 70000; ++i) bytes += static_cast<char>((i * 7) & 0xff);
    std::string enc = b64(bytes);
    // MIME-style line breaks and escaped slashes, as some encoders write.
    std::string content;
    for (std::size_t i = 0; i < enc.size(); i += 76) content += enc.substr(i, 76) + "\\r\\n";
    std::string escaped;
    for (const char c : content) escaped += c == '/' ? std::string("\\/") : std::string(1, c);
    const std::string json = R"({"SecretKey":"s","Message":{"Attachments":[{"Content":")" +
                             escaped +
                             R"(","Name":"a.bin","ContentType":"application/octet-stream"}]}})";
    inbound_parser p;
    inbound_message m;
    collect sink;
    std::string reason;
    ASSERT_FALSE(p.parse(json, m, &sink, &reason)) << reason;
    ASSERT_EQ(m.attachments.size(), 1u);
    EXPECT_EQ(m.attachments[0].name, "a.bin");
    EXPECT_EQ(m.attachments[0].error, "");
    EXPECT_EQ(m.attachments[0].size, bytes.size());
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_TRUE(sink.files[0] == bytes);
}

TEST(InboundParser, InvalidBase64IsKeptWithItsError) {
    const std::string json =
        R"({"SecretKey":"s","Message":{"Attachments":[{"Name":"x","ContentType":"text/plain","Content":"SGVsbG8*"}],)"
        R"("EmbeddedMedia":[{"Name":"ok.png","ContentType":"image/png","Content":"iVBORw0KGgo=","ContentId":"logo"}]}})";
    const auto m = parse(json);
    ASSERT_EQ(m.attachments.size(), 2u);
    EXPECT_NE(m.attachments[0].error.find("invalid base64 at byte 7"), std::string::npos)
        << m.attachments[0].error;
    EXPECT_EQ(m.attachments[1].error, "");
    EXPECT_TRUE(m.attachments[1].embedded);
    EXPECT_EQ(m.attachments[1].size, 8u);
    EXPECT_NE(stored_json(m).find("invalid base64"), std::string::npos);
}

TEST(InboundParser, TruncatedOrTrailingJsonIsRefusedWithAReason) {
    inbound_parser p;
    inbound_message m;
    std::string reason;
    const auto full = postfix_bounce().json();
    EXPECT_EQ(p.parse(full.substr(0, full.size() / 2), m, nullptr, &reason), errc::bad_json);
    EXPECT_NE(reason.find("not a valid Inbound API message"), std::string::npos) << reason;
    EXPECT_EQ(p.parse("{} x", m, nullptr, &reason), errc::bad_json);
    EXPECT_EQ(p.parse("[1]", m, nullptr, &reason), errc::bad_json);
    EXPECT_EQ(p.parse("  ", m, nullptr, &reason), errc::empty_body);
    EXPECT_EQ(p.parse(R"({"Message":{"To":"not a list"}})", m, nullptr, &reason), errc::bad_json);
    EXPECT_NE(reason.find("Message.To"), std::string::npos) << reason;
}

TEST(InboundParser, ReadsTheValidationHandshake) {
    inbound_message m;
    ASSERT_FALSE(parse_inbound_form("Type=Validation&SecretKey=s%203", m));
    EXPECT_TRUE(m.validation);
    EXPECT_EQ(m.secret_key, "s 3");
    EXPECT_TRUE(parse_inbound_form("Type=Validation&SecretKey=%zz", m));
}

}  // namespace
}  // namespace salvo::platform
