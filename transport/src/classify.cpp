#include "salvo/transport/classify.hpp"

#include <curl/curl.h>

namespace salvo::transport {

curl_class classify_curl_code(int curl_code) noexcept {
    switch (static_cast<CURLcode>(curl_code)) {
        case CURLE_OK:
            return curl_class::ok;

        // The body cannot have left: name resolution, connect, TLS handshake.
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PROXY:
            return curl_class::before_send;

        // Certificates will not fix themselves.
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_CLIENTCERT:
            return curl_class::cert_failure;

        // Decided by whether the whole body went out.
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SEND_FAIL_REWIND:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_HTTP3:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_BAD_CONTENT_ENCODING:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_WRITE_ERROR:
        case CURLE_AGAIN:
            return curl_class::mid_transfer;

        case CURLE_ABORTED_BY_CALLBACK:
            return curl_class::aborted;

        default:
            return curl_class::local_error;
    }
}

verdict classify_http_status(long http_status) noexcept {
    if (http_status >= 200 && http_status < 300) return {disposition::success, false};
    switch (http_status) {
        case 429:
            return {disposition::retry_after_backoff, true};
        case 408:
        case 500:
        case 502:
        case 503:
        case 504:
            return {disposition::retry_after_backoff, false};
        default:
            return {disposition::permanent, false};
    }
}

verdict classify(const attempt_facts& facts) noexcept {
    const auto in_doubt = [&](disposition if_not_sent) {
        return verdict{facts.whole_body_sent ? disposition::maybe_delivered : if_not_sent, false};
    };
    const curl_class cls = classify_curl_code(facts.curl_code);
    // RFC 9113 §8.7: a stream refused (RST_STREAM REFUSED_STREAM, or above a
    // GOAWAY's last-stream-id) was not processed; sending it again is safe.
    if (facts.refused_stream && facts.http_status == 0 && cls != curl_class::ok &&
        cls != curl_class::aborted && cls != curl_class::cert_failure)
        return {disposition::retry_now, false};
    switch (cls) {
        case curl_class::ok:
            if (facts.http_status == 0) return in_doubt(disposition::retry_now);
            return classify_http_status(facts.http_status);
        case curl_class::before_send:
            // With curl's own silent retry on a dead reused connection, a
            // connect failure can follow a body that went out on the old one.
            return in_doubt(disposition::retry_after_backoff);
        case curl_class::cert_failure:
            return {disposition::permanent, false};
        case curl_class::mid_transfer:
            // A final status came before the transfer broke: an error status
            // means the server refused the request (e.g. 413 before reading a
            // large body); a success status may have been cut short.
            if (facts.http_status >= 300) return classify_http_status(facts.http_status);
            if (facts.http_status >= 200) return {disposition::maybe_delivered, false};
            return in_doubt(disposition::retry_now);
        case curl_class::aborted:
            return {disposition::cancelled, false};
        case curl_class::local_error:
            return in_doubt(disposition::permanent);
    }
    return in_doubt(disposition::permanent);
}

}  // namespace salvo::transport
