// A 50 MB Inbound API message with a 45 MB attachment through the real
// `salvo listen`: accepted, the attachment stored byte-exact under its
// SHA-256, and the receiver's peak memory within twice the message's size.
// The 45 MB are the attachment as posted (base64; 33.75 MB decoded): a
// 45 MB binary would be 60 MB of base64, over the 50 MB limit of a post.
#include "../inbound_support.hpp"
#include "support/http_client.hpp"
#include "support/listen_process.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fstream>
#include <sstream>

namespace salvo::test {
namespace {

// VmHWM of a process in bytes (its peak resident set).
std::uint64_t peak_rss(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    return 0;
}

TEST(InboundLarge, FiftyMegabyteMessageWithA45MegabyteAttachment) {
    temp_dir dir{"salvo-inbound-large"};
    auto server =
        listen_process::start(SALVO_BINARY, dir.path(), "listen", dir.path() / "events.sqlite");
    std::string attachment(45u * 1000 * 1000 / 4 * 3, '\0');
    std::uint32_t x = 12345;
    for (auto& c : attachment) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    const std::string filler(5u * 1000 * 1000 - 2048, 'x');  // the rest of the 50 MB: text
    const auto body = inbound_json(
        listen_process::secret, "ann@example.net", "news@news.example.com", "Big", filler, "",
        attachment_json("big.bin", "application/octet-stream", base64(attachment)));
    ASSERT_GE(body.size(), 49u * 1000 * 1000);
    ASSERT_LE(body.size(), 50u * 1024 * 1024);
    const auto before = peak_rss(server.child().pid());
    http_client c(server.port());
    const auto r =
        c.request(boost::beast::http::verb::post, "/inbound", body, {}, std::chrono::seconds(120));
    ASSERT_EQ(r.status, 200) << r.body;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(attachment.data(), attachment.size(), md, &len, EVP_sha256(), nullptr);
    std::string hex;
    for (unsigned i = 0; i < len; ++i) {
        static constexpr char h[] = "0123456789abcdef";
        hex += h[md[i] >> 4];
        hex += h[md[i] & 15];
    }
    const auto stored = dir.path() / "events.sqlite.inbound" / "attachments" / hex;
    ASSERT_TRUE(std::filesystem::exists(stored));
    std::ifstream in(stored, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    EXPECT_TRUE(ss.str() == attachment) << "byte-exact";
    const auto peak = peak_rss(server.child().pid());
    RecordProperty("peak_rss_bytes", std::to_string(peak));
    RecordProperty("body_bytes", std::to_string(body.size()));
    std::printf("body %zu bytes, listen peak RSS %llu bytes before, %llu after (%.2fx the body)\n",
                body.size(), static_cast<unsigned long long>(before),
                static_cast<unsigned long long>(peak),
                static_cast<double>(peak) / static_cast<double>(body.size()));
    EXPECT_LE(peak, 2 * body.size());
}

}  // namespace
}  // namespace salvo::test
