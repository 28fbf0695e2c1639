// `salvo listen`'s Inbound API and one-click routes, the real binary over
// loopback: what each post is answered, what the database and the
// attachments folder hold afterwards.
#include "inbound_support.hpp"
#include "support/http_client.hpp"
#include "support/listen_process.hpp"

#include <salvo/platform/unsubscribe_token.hpp>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace salvo::test {
namespace {

namespace http = boost::beast::http;
using headers = std::vector<std::pair<std::string, std::string>>;

const std::string key = listen_process::secret;
constexpr const char* unsub_secret = "one-click-test-secret";

std::string query(const std::filesystem::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    std::string out;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK) {
            int rc;
            while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                if (!out.empty()) out += '\n';
                for (int c = 0; c < sqlite3_column_count(s); ++c) {
                    if (c) out += '|';
                    if (sqlite3_column_text(s, c))
                        out += reinterpret_cast<const char*>(sqlite3_column_text(s, c));
                }
            }
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return out;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    std::string out;
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class Inbound : public ::testing::Test {
  protected:
    void SetUp() override {
        ::setenv("SALVO_TEST_UNSUBSCRIBE_SECRET", unsub_secret, 1);
        server_.emplace(
            listen_process::start(SALVO_BINARY, dir_.path(), "listen", db(),
                                  {"--unsubscribe-secret-env", "SALVO_TEST_UNSUBSCRIBE_SECRET",
                                   "--unsubscribe-mailto", "unsubscribe@news.example.com"}));
    }
    std::filesystem::path db() const { return dir_.path() / "events.sqlite"; }
    std::filesystem::path attachments() const {
        return dir_.path() / "events.sqlite.inbound" / "attachments";
    }
    http_reply post(const std::string& target, const std::string& body, const headers& h = {}) {
        http_client c(server_->port());
        return c.request(http::verb::post, target, body, h);
    }
    http_reply get(const std::string& target) {
        http_client c(server_->port());
        return c.request(http::verb::get, target, "");
    }
    std::string suppressions() {
        return query(db(), "SELECT address, reason, source FROM suppressions ORDER BY address");
    }
    std::size_t files() {
        std::size_t n = 0;
        for (const auto& e : std::filesystem::directory_iterator(attachments())) {
            (void)e;
            ++n;
        }
        return n;
    }

    temp_dir dir_{"salvo-inbound"};
    std::optional<listen_process> server_;
};

std::string postfix_dsn(const std::string& secret, const std::string& recipient,
                        const std::string& status) {
    const std::string report =
        "Reporting-MTA: dns; mail.news.example.com\n\nFinal-Recipient: "
        "rfc822; " +
        recipient + "\nAction: failed\nStatus: " + status + "\n";
    return inbound_json(
        secret, "MAILER-DAEMON@mail.news.example.com", "bounces@news.example.com",
        "Undelivered Mail Returned to Sender", "I'm sorry to have to inform you...",
        header_json("Content-Type",
                    "multipart/report; report-type=delivery-status; boundary=\\\"b1\\\"") +
            "," + header_json("Message-ID", "<dsn-" + recipient + "@mail.news.example.com>"),
        attachment_json("", "message/delivery-status", base64(report)));
}

TEST_F(Inbound, AnswersTheValidationHandshake) {
    const headers form{{"Content-Type", "application/x-www-form-urlencoded"}};
    auto r = post("/inbound", "Type=Validation&SecretKey=" + key, form);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, listen_process::validation);
    r = post("/inbound", "Type=Validation&SecretKey=wrong", form);
    EXPECT_EQ(r.status, 401);
}

TEST_F(Inbound, AWrongSecretIsRefusedAndNothingIsStored) {
    const auto r = post(
        "/inbound", inbound_json("wrong", "a@x.org", "news@news.example.com", "Hi", "hello", "",
                                 attachment_json("a.txt", "text/plain", base64("secret stuff"))));
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(query(db(), "SELECT count(*) FROM inbound_messages"), "0");
    EXPECT_EQ(files(), 0u) << "no attachment file is kept for a refused post";
    EXPECT_EQ(r.body.find(key), std::string::npos);
}

TEST_F(Inbound, TruncatedJsonIs400AndNothingIsStored) {
    const auto full = postfix_dsn(key, "bob@example.org", "5.1.1");
    const auto r = post("/inbound", full.substr(0, full.size() - 40));
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("not a valid Inbound API message"), std::string::npos) << r.body;
    EXPECT_EQ(query(db(), "SELECT count(*) FROM inbound_messages"), "0");
    EXPECT_EQ(suppressions(), "");
}

TEST_F(Inbound, ADsnSuppressesItsRecipientOnceAsADsn) {
    const auto body = postfix_dsn(key, "Bob@Example.org", "5.1.1");
    auto r = post("/inbound", body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, listen_process::validation);
    r = post("/inbound", body);  // the platform redelivers
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(query(db(), "SELECT kind, address, status FROM inbound_messages"),
              "hard_bounce|Bob@Example.org|5.1.1");
    EXPECT_EQ(suppressions(), "Bob@example.org|hard_bounce|dsn");
    EXPECT_NE(query(db(), "SELECT kind_reason FROM inbound_messages").find("delivery-status"),
              std::string::npos);
    // A 4.x.x report is stored and counted, not suppressed at once.
    r = post("/inbound", postfix_dsn(key, "slow@example.org", "4.2.2"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(query(db(),
                    "SELECT count(*) FROM events WHERE address = 'slow@example.org' AND "
                    "state = 3"),
              "1");
    EXPECT_EQ(suppressions(), "Bob@example.org|hard_bounce|dsn");
}

TEST_F(Inbound, AttachmentsAreStoredByTheirSha256AndBadBase64KeepsItsError) {
    std::string bytes;
    for (int i = 0; i < 300000; ++i) bytes += static_cast<char>((i * 31 + 7) & 0xff);
    const auto r =
        post("/inbound",
             inbound_json(key, "ann@example.net", "news@news.example.com", "Re: Spring sale",
                          "Here is the form.", header_json("Message-ID", "<a1@example.net>"),
                          attachment_json("form.bin", "application/octet-stream", base64(bytes)) +
                              "," + attachment_json("broken.txt", "text/plain", "SGVsbG8*")));
    ASSERT_EQ(r.status, 200) << r.body;
    const auto sha = sha256_hex(bytes);
    EXPECT_TRUE(read_file(attachments() / sha) == bytes) << "byte-exact";
    EXPECT_EQ(query(db(),
                    "SELECT name, size, sha256, error IS NULL FROM inbound_attachments "
                    "ORDER BY position"),
              "form.bin|300000|" + sha + "|1\nbroken.txt|0||0");
    EXPECT_NE(query(db(), "SELECT error FROM inbound_attachments WHERE position = 1")
                  .find("invalid base64"),
              std::string::npos);
    EXPECT_EQ(query(db(), "SELECT kind FROM inbound_messages"), "reply");
    EXPECT_EQ(files(), 1u);
}

TEST_F(Inbound, ABodyAboveFiftyMegabytesIs413) {
    EXPECT_EQ(status_for_announced_body(server_->port(), "/inbound", 60ull * 1024 * 1024), 413);
    EXPECT_EQ(status_for_announced_body(server_->port(), "/notifications", 2ull * 1024 * 1024), 413)
        << "only /inbound takes the larger bodies";
}

TEST_F(Inbound, UnsubscribeByMailSuppressesTheSender) {
    auto r = post("/inbound", inbound_json(key, "jack@example.net",
                                           "unsubscribe+camp-1-jack@news.example.com", "", ""));
    ASSERT_EQ(r.status, 200) << r.body;
    r = post("/inbound", inbound_json(key, "ooo@example.net", "news@news.example.com",
                                      "Out of Office: Spring sale", "Back Monday"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(suppressions(), "jack@example.net|unsubscribed|inbound-reply")
        << "an auto-reply never suppresses";
    EXPECT_EQ(query(db(), "SELECT kind FROM inbound_messages ORDER BY id"),
              "unsubscribe\nauto_reply");
}

TEST_F(Inbound, OneClickPostSuppressesOnceAndForgedTokensRecordNothing) {
    const auto token = platform::make_unsubscribe_token(unsub_secret, "camp-1", "kim@example.net");
    const headers form{{"Content-Type", "application/x-www-form-urlencoded"}};
    auto r = post("/unsubscribe?t=" + token, "List-Unsubscribe=One-Click", form);
    ASSERT_EQ(r.status, 200) << r.body;
    r = post("/unsubscribe?t=" + token, "List-Unsubscribe=One-Click", form);
    ASSERT_EQ(r.status, 200) << "idempotent";
    EXPECT_EQ(suppressions(), "kim@example.net|unsubscribed|one-click");
    EXPECT_EQ(query(db(), "SELECT count(*) FROM events"), "1");

    auto altered = platform::make_unsubscribe_token(unsub_secret, "camp-1", "lea@example.net");
    altered[altered.size() / 2] = altered[altered.size() / 2] == 'x' ? 'y' : 'x';
    r = post("/unsubscribe?t=" + altered, "List-Unsubscribe=One-Click", form);
    EXPECT_EQ(r.status, 400);
    const auto other = platform::make_unsubscribe_token("another", "camp-1", "lea@example.net");
    EXPECT_EQ(post("/unsubscribe?t=" + other, "", form).status, 400);
    const auto expired =
        platform::make_unsubscribe_token(unsub_secret, "camp-1", "lea@example.net", 1);
    EXPECT_EQ(post("/unsubscribe?t=" + expired, "", form).status, 400);
    EXPECT_EQ(suppressions(), "kim@example.net|unsubscribed|one-click") << "nothing recorded";
}

TEST_F(Inbound, OneClickGetShowsAPageWithAPostButtonAndUnsubscribesNobody) {
    const auto token = platform::make_unsubscribe_token(unsub_secret, "camp-1", "<mo>@example.net");
    const auto r = get("/unsubscribe?t=" + token);
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("<form method=\"post\" action=\"/unsubscribe?t=" + token + "\">"),
              std::string::npos)
        << r.body;
    EXPECT_NE(r.body.find("&lt;mo&gt;@example.net"), std::string::npos) << "escaped";
    EXPECT_EQ(suppressions(), "");
    EXPECT_EQ(get("/unsubscribe?t=forged").status, 400);
}

TEST_F(Inbound, SuppressionsExportShowsTheSources) {
    ASSERT_EQ(post("/inbound", postfix_dsn(key, "bob@example.org", "5.1.1")).status, 200);
    const auto token = platform::make_unsubscribe_token(unsub_secret, "camp-1", "kim@example.net");
    ASSERT_EQ(post("/unsubscribe?t=" + token, "List-Unsubscribe=One-Click").status, 200);
    server_->stop();
    const auto out = dir_.path() / "export.csv";
    const std::string cmd = std::string(SALVO_BINARY) + " suppressions export --db " +
                            db().string() + " --with-source --out " + out.string() + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_EQ(read_file(out),
              "bob@example.org,hard_bounce,dsn\nkim@example.net,unsubscribed,one-click\n");
}

}  // namespace
}  // namespace salvo::test
