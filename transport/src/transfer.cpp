// The per-transfer side of curl: the easy handle's options and callbacks.
// The callbacks run inside curl on the network thread and never call curl.

#include "transfer.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>

namespace salvo::transport::detail {
namespace {

constexpr long upload_buffer_bytes = 128 * 1024;  // see configure_handle()

bool header_is(std::string_view line, std::string_view name) {
    if (line.size() <= name.size() || line[name.size()] != ':') return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
    }
    return true;
}

std::string header_value(std::string_view line, std::size_t name_size) {
    line.remove_prefix(name_size + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' '))
        line.remove_suffix(1);
    return std::string(line);
}

// --- curl easy callbacks (no curl calls inside) -----------------------------

// Called by curl once a connection is ready, just before it issues the
// request. A second call within one attempt is curl's own retry of a request
// that went out on a reused connection that then died: the body may have
// arrived, so that retry is refused (the request fails and is classified as
// maybe delivered) rather than sent twice unknowingly.
int on_prereq(void* userp, char*, char*, int, int) {
    auto* t = static_cast<transfer*>(userp);
    if (t->issued) {
        t->refused_reconnect = true;
        return CURL_PREREQFUNC_ABORT;
    }
    t->issued = true;
    return CURL_PREREQFUNC_OK;
}

// Only for connections that may speak HTTP/2 (CURLOPT_VERBOSE is on for
// them): curl 7.88 tells nobody but its debug output that a stream was
// refused or came after a GOAWAY's last stream (note_debug_line).
int on_debug(CURL*, curl_infotype type, char* data, std::size_t size, void* userp) {
    if (type != CURLINFO_TEXT || userp == nullptr) return 0;
    try {
        note_debug_line(*static_cast<transfer*>(userp), std::string_view(data, size));
    } catch (...) {
        // Out of memory recording a GOAWAY: the stream stays maybe-delivered.
    }
    return 0;
}

// The decimal number at the start of `s` (0 if none).
std::uint64_t leading_number(std::string_view s) {
    std::uint64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') break;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

// The number after the first `key` in `line`; nullopt when `key` is absent.
std::optional<std::uint64_t> number_after(std::string_view line, std::string_view key) {
    const auto at = line.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    return leading_number(line.substr(at + key.size()));
}

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* userp) {
    auto* t = static_cast<transfer*>(userp);
    const std::size_t n = size * count;
    try {
        t->answer.body.append(data, n);
    } catch (...) {
        return 0;  // curl fails the transfer with CURLE_WRITE_ERROR
    }
    return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* userp) {
    auto* t = static_cast<transfer*>(userp);
    const std::size_t n = size * count;
    const std::string_view line(data, n);
    try {
        if (line.starts_with("HTTP/")) {  // a new response (after 1xx): start over
            t->answer.retry_after.clear();
            t->answer.content_type.clear();
        } else if (header_is(line, "retry-after")) {
            t->answer.retry_after = header_value(line, 11);
        } else if (header_is(line, "content-type")) {
            t->answer.content_type = header_value(line, 12);
        }
    } catch (...) {
        return 0;
    }
    return n;
}

}  // namespace

void note_debug_line(transfer& t, std::string_view line) {
    // The lines, as curl 7.88.1 writes them (lib/connect.c, lib/url.c,
    // lib/http2.c, lib/transfer.c):
    //   Connected to 127.0.0.1 (127.0.0.1) port 44321 (#3)
    //   Re-using existing connection #3 with host 127.0.0.1
    //   Using Stream ID: 21 (easy handle 0x...)
    //   recveived GOAWAY, error=0, last_stream=19   [sic]
    //   REFUSED_STREAM, retrying a fresh connect
    //   Connection died, retrying a fresh connect (retry count: 1)
    //   Connection died, tried 5 times before giving up
    if (line.starts_with("Connected to ")) {
        if (auto n = number_after(line, "(#")) t.connection = static_cast<long>(*n);
    } else if (line.starts_with("Re-using existing connection #")) {
        if (auto n = number_after(line, "#")) t.connection = static_cast<long>(*n);
    } else if (line.starts_with("Using Stream ID: ")) {
        t.stream_id = static_cast<std::uint32_t>(leading_number(line.substr(17)));
    } else if (line.find("GOAWAY, error=") != std::string_view::npos) {
        auto last = number_after(line, "last_stream=");
        if (last && t.goaways != nullptr && t.connection >= 0)
            (*t.goaways)[t.connection] = static_cast<std::uint32_t>(*last);
    } else if (line.starts_with("REFUSED_STREAM")) {
        t.refused_stream = true;
    } else if (line.starts_with("Connection died")) {
        // "..., retrying a fresh connect" or "..., tried 5 times before giving
        // up": no answer at all on this stream. Above a GOAWAY's last stream?
        t.died_retry = true;
        if (t.goaways != nullptr && t.stream_id != 0) {
            const auto g = t.goaways->find(t.connection);
            if (g != t.goaways->end() && t.stream_id > g->second) t.refused_stream = true;
        }
    }
}

header_list_ptr build_header_list(const std::vector<std::string>& lines) {
    header_list_ptr list;
    for (const auto& h : lines) {
        if (h.find_first_of("\r\n") != std::string::npos) return nullptr;
        curl_slist* next = curl_slist_append(list.get(), h.c_str());
        if (next == nullptr) return nullptr;
        (void)list.release();
        list.reset(next);
    }
    // curl 7.88 otherwise waits for 100-continue on bodies over 1 MiB.
    curl_slist* next = curl_slist_append(list.get(), "Expect:");
    if (next == nullptr) return nullptr;
    (void)list.release();
    list.reset(next);
    return list;
}

bool build_headers(transfer& t, curl_slist* shared) {
    if (t.header_list != nullptr) return true;
    if (t.req.headers.empty() && shared != nullptr) {
        t.header_list = shared;
        return true;
    }
    header_list_ptr own = build_header_list(t.req.headers);
    if (!own) return false;
    t.header_list = own.release();
    t.owns_header_list = true;
    return true;
}

void configure_handle(CURL* e, const client_options& options, const std::string& user_agent) {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    // A body over 64 KB goes out through curl's upload buffer, one send()
    // a buffer, and each send() wakes the server: on a machine it shares,
    // the server then takes the core from this thread. Twice the default
    // halves the sends of a server-mode request (~200 KB: 4.7 a request
    // with 64 KiB), for 64 KiB more a handle once it has sent such a body
    // (2 MB at 32 in flight). 256 KiB sent such a body in one send() but
    // took the 10 M-row send to within 2 MB of its 128 MiB
    // (docs/performance.md, "Fewer send()s a request").
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, upload_buffer_bytes);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &on_prereq);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_write);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, &on_debug);
    curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     options.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.low_speed_time.count()));
    const bool verify = options.tls.verify && !options.tls.insecure;
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (!options.tls.ca_file.empty())
        curl_easy_setopt(e, CURLOPT_CAINFO, options.tls.ca_file.c_str());
    if (options.proxy) curl_easy_setopt(e, CURLOPT_PROXY, options.proxy->c_str());
    if (options.no_proxy) curl_easy_setopt(e, CURLOPT_NOPROXY, options.no_proxy->c_str());
}

void configure_attempt(CURL* e, transfer& t, const client_options& options) {
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_URL, t.req.url.c_str());
    // The body goes from the request's own buffer: curl sends a body under
    // 64 KB in the same send() as the headers (one segment, one wake-up of
    // the server instead of two), and copies larger ones through its upload
    // buffer (configure_handle). That makes the body rewindable for curl,
    // so on_prereq is what stops curl from re-sending it on its own.
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.req.body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.req.body.data());
    // The handle is reused: nullptr puts POST back.
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     t.req.method.empty() ? nullptr : t.req.method.c_str());
    curl_easy_setopt(e, CURLOPT_PREREQDATA, &t);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_DEBUGDATA, &t);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.header_list);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error_text.data());
    // Waiting for a connection to learn whether it multiplexes only pays
    // where HTTP/2 can be offered at all (ALPN over TLS).
    const bool may_be_h2 = options.http2 && t.req.url.starts_with("https:");
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, may_be_h2 ? 1L : 0L);
    // curl's debug output is the only place curl 7.88 reports a refused
    // stream or a GOAWAY (note_debug_line); it costs a dozen short formatted
    // lines per request, so only where HTTP/2 can be spoken.
    curl_easy_setopt(e, CURLOPT_VERBOSE, may_be_h2 ? 1L : 0L);
}

}  // namespace salvo::transport::detail
