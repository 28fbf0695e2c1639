#include "salvo/transport/classify.hpp"

#include "salvo/transport/error.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

namespace {

using salvo::transport::attempt_facts;
using salvo::transport::classify;
using salvo::transport::disposition;
using d = salvo::transport::disposition;

struct row {
    CURLcode code;
    long status;
    bool body_sent;
    disposition expected;
    bool throttled;
};

// Every curl code and HTTP status the transport treats specially, and a few it
// treats by default. body_sent is asked both ways where it matters.
const row table[] = {
    // Complete answers: the status decides, whatever went out.
    {CURLE_OK, 200, true, d::success, false},
    {CURLE_OK, 201, true, d::success, false},
    {CURLE_OK, 204, true, d::success, false},
    {CURLE_OK, 408, true, d::retry_after_backoff, false},
    {CURLE_OK, 429, true, d::retry_after_backoff, true},
    {CURLE_OK, 500, true, d::retry_after_backoff, false},
    {CURLE_OK, 502, true, d::retry_after_backoff, false},
    {CURLE_OK, 503, true, d::retry_after_backoff, false},
    {CURLE_OK, 504, true, d::retry_after_backoff, false},
    {CURLE_OK, 400, true, d::permanent, false},
    {CURLE_OK, 401, true, d::permanent, false},
    {CURLE_OK, 403, true, d::permanent, false},
    {CURLE_OK, 404, true, d::permanent, false},
    {CURLE_OK, 413, true, d::permanent, false},
    {CURLE_OK, 301, true, d::permanent, false},
    {CURLE_OK, 501, true, d::permanent, false},
    {CURLE_OK, 505, true, d::permanent, false},
    // CURLE_OK without a status is never a success.
    {CURLE_OK, 0, true, d::maybe_delivered, false},
    {CURLE_OK, 0, false, d::retry_now, false},
    // Before the body could leave.
    {CURLE_COULDNT_RESOLVE_HOST, 0, false, d::retry_after_backoff, false},
    {CURLE_COULDNT_RESOLVE_PROXY, 0, false, d::retry_after_backoff, false},
    {CURLE_COULDNT_CONNECT, 0, false, d::retry_after_backoff, false},
    {CURLE_SSL_CONNECT_ERROR, 0, false, d::retry_after_backoff, false},
    {CURLE_PROXY, 0, false, d::retry_after_backoff, false},
    // ...unless curl's own retry had sent it on a dead reused connection.
    {CURLE_COULDNT_CONNECT, 0, true, d::maybe_delivered, false},
    // Certificates: permanent.
    {CURLE_PEER_FAILED_VERIFICATION, 0, false, d::permanent, false},
    {CURLE_SSL_CACERT_BADFILE, 0, false, d::permanent, false},
    {CURLE_SSL_CERTPROBLEM, 0, false, d::permanent, false},
    {CURLE_SSL_ISSUER_ERROR, 0, false, d::permanent, false},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, 0, false, d::permanent, false},
    {CURLE_SSL_INVALIDCERTSTATUS, 0, false, d::permanent, false},
    {CURLE_SSL_CRL_BADFILE, 0, false, d::permanent, false},
    {CURLE_SSL_CLIENTCERT, 0, false, d::permanent, false},
    // Mid transfer: the body decides.
    {CURLE_OPERATION_TIMEDOUT, 0, true, d::maybe_delivered, false},
    {CURLE_OPERATION_TIMEDOUT, 0, false, d::retry_now, false},
    {CURLE_OPERATION_TIMEDOUT, 200, true, d::maybe_delivered, false},
    {CURLE_SEND_ERROR, 0, true, d::maybe_delivered, false},
    {CURLE_SEND_ERROR, 0, false, d::retry_now, false},
    {CURLE_RECV_ERROR, 0, true, d::maybe_delivered, false},
    {CURLE_RECV_ERROR, 0, false, d::retry_now, false},
    {CURLE_GOT_NOTHING, 0, true, d::maybe_delivered, false},
    {CURLE_GOT_NOTHING, 0, false, d::retry_now, false},
    {CURLE_PARTIAL_FILE, 200, true, d::maybe_delivered, false},
    {CURLE_PARTIAL_FILE, 200, false, d::maybe_delivered, false},
    // An error status that arrived before the transfer broke decides.
    {CURLE_SEND_ERROR, 413, false, d::permanent, false},
    {CURLE_RECV_ERROR, 503, true, d::retry_after_backoff, false},
    {CURLE_PARTIAL_FILE, 429, true, d::retry_after_backoff, true},
    {CURLE_OPERATION_TIMEDOUT, 400, true, d::permanent, false},
    {CURLE_SEND_FAIL_REWIND, 0, true, d::maybe_delivered, false},
    {CURLE_SEND_FAIL_REWIND, 0, false, d::retry_now, false},
    {CURLE_HTTP2, 0, true, d::maybe_delivered, false},
    {CURLE_HTTP2_STREAM, 0, false, d::retry_now, false},
    {CURLE_HTTP3, 0, true, d::maybe_delivered, false},
    {CURLE_WEIRD_SERVER_REPLY, 0, true, d::maybe_delivered, false},
    {CURLE_BAD_CONTENT_ENCODING, 200, true, d::maybe_delivered, false},
    {CURLE_SSL_SHUTDOWN_FAILED, 0, true, d::maybe_delivered, false},
    {CURLE_WRITE_ERROR, 200, true, d::maybe_delivered, false},
    {CURLE_AGAIN, 0, false, d::retry_now, false},
    // Ours.
    {CURLE_ABORTED_BY_CALLBACK, 0, true, d::cancelled, false},
    // Local errors: permanent unless the body went.
    {CURLE_URL_MALFORMAT, 0, false, d::permanent, false},
    {CURLE_UNSUPPORTED_PROTOCOL, 0, false, d::permanent, false},
    {CURLE_BAD_FUNCTION_ARGUMENT, 0, false, d::permanent, false},
    {CURLE_OUT_OF_MEMORY, 0, false, d::permanent, false},
    {CURLE_READ_ERROR, 0, false, d::permanent, false},
    {CURLE_READ_ERROR, 0, true, d::maybe_delivered, false},
};

TEST(Classify, EveryCodeAndStatusInTheTable) {
    for (const auto& r : table) {
        const auto v = classify(attempt_facts{static_cast<int>(r.code), r.status, r.body_sent});
        EXPECT_EQ(v.result, r.expected)
            << "curl " << r.code << " (" << curl_easy_strerror(r.code) << "), HTTP " << r.status
            << ", body_sent " << r.body_sent << ": got " << to_string(v.result);
        EXPECT_EQ(v.throttled, r.throttled) << "curl " << r.code << ", HTTP " << r.status;
    }
}

// A refused HTTP/2 stream (REFUSED_STREAM, or above a GOAWAY's
// last-stream-id) was not processed: safe to send again even when the whole
// body went out. Only when no answer came; certificates and our own abort
// keep their meaning.
TEST(Classify, RefusedHttp2StreamIsSafeToSendAgain) {
    struct refused_row {
        CURLcode code;
        long status;
        disposition expected;
    };
    const refused_row rows[] = {
        {CURLE_SEND_FAIL_REWIND, 0, d::retry_now},  // curl's resend, refused by us
        {CURLE_SEND_ERROR, 0, d::retry_now},        // "Connection died, tried 5 times"
        {CURLE_RECV_ERROR, 0, d::retry_now},
        {CURLE_HTTP2_STREAM, 0, d::retry_now},
        {CURLE_COULDNT_CONNECT, 0, d::retry_now},  // curl's resend, socket refused
        {CURLE_OK, 200, d::success},               // an answer decides
        {CURLE_RECV_ERROR, 503, d::retry_after_backoff},
        {CURLE_PARTIAL_FILE, 200, d::maybe_delivered},
        {CURLE_ABORTED_BY_CALLBACK, 0, d::cancelled},
        {CURLE_PEER_FAILED_VERIFICATION, 0, d::permanent},
    };
    for (const auto& r : rows) {
        attempt_facts f{static_cast<int>(r.code), r.status, true};
        f.refused_stream = true;
        EXPECT_EQ(classify(f).result, r.expected) << "curl " << r.code << ", HTTP " << r.status
                                                  << ": got " << to_string(classify(f).result);
        // The same without the refusal: the body went, so in doubt.
        f.refused_stream = false;
        if (r.status == 0 && r.expected == d::retry_now) {
            EXPECT_EQ(classify(f).result, d::maybe_delivered) << "curl " << r.code;
        }
    }
}

TEST(Classify, EveryCurlCodeHasAClassAndNoneIsSuccess) {
    // No failure code may ever come out as success, whatever the status says.
    for (int c = 1; c < CURL_LAST; ++c) {
        for (bool sent : {false, true}) {
            const auto v = classify(attempt_facts{c, 200, sent});
            EXPECT_NE(v.result, d::success) << "curl code " << c;
        }
    }
}

TEST(Classify, CurlErrorCategoryNamesTheCurlMessage) {
    const auto ec = salvo::transport::make_curl_error(CURLE_PEER_FAILED_VERIFICATION);
    EXPECT_STREQ(ec.category().name(), "curl");
    EXPECT_EQ(ec.value(), 60);
    EXPECT_EQ(ec.message(), curl_easy_strerror(CURLE_PEER_FAILED_VERIFICATION));
    const auto mc = salvo::transport::make_curl_multi_error(CURLM_BAD_HANDLE);
    EXPECT_STREQ(mc.category().name(), "curl-multi");
    EXPECT_EQ(mc.message(), curl_multi_strerror(CURLM_BAD_HANDLE));
    const boost::system::error_code te = salvo::transport::errc::retry_budget;
    EXPECT_STREQ(te.category().name(), "salvo.transport");
    EXPECT_NE(te.message().find("budget"), std::string::npos);
}

}  // namespace
