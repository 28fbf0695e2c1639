#pragma once
/// Configuration of the Injection API emulator: where it listens, what it
/// accepts, what it records, and which faults it injects.

#include <salvo/injection/codes.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace salvo::emulator {

/// The port `salvo emulate` listens on (127.0.0.1) unless told otherwise;
/// the sample job points at `http://127.0.0.1:8465/api/v1/email`. The
/// library itself binds port 0 by default.
inline constexpr std::uint16_t default_port = 8465;

/// The emulator's default per-message size cap (MessageTooLarge), a policy:
/// bodies, subject, headers and base64 attachment content added up.
inline constexpr std::size_t default_max_message_bytes = 20 * 1024 * 1024;

/// Content stored on the "server" under an `ApiTemplate` id. A template with
/// neither text nor html answers `TemplateHasNoContent`.
struct stored_template {
    std::string subject;
    std::string text;
    std::string html;
    std::string amp;
};

/// What a fault does to the request it hits.
enum class fault_kind : std::uint8_t {
    http_500,                ///< answer 500 with `InternalError`; nothing recorded
    http_502,                ///< answer 502 with `InternalError`; nothing recorded
    http_503,                ///< answer 503 with `InternalError`; nothing recorded
    http_504,                ///< answer 504 with `InternalError`; nothing recorded
    throttle,                ///< answer 429 with `Retry-After: retry_after_seconds`
    over_quota,              ///< answer 200 with top-level `OverQuota`
    invalid_authentication,  ///< answer 401 with `InvalidAuthentication`
    api_code,                ///< answer 200 with the request-level `code`
    reset_before_body,       ///< reset the connection after the headers, before the body
    reset_after_body,        ///< accept and record the emails, then reset: maybe delivered
    delay,                   ///< accept, record, wait `delay`, then answer
    no_response,             ///< accept, record, never answer (until the client closes)
    reject_address,          ///< addresses matching `pattern` get `InvalidAddress`
};

/// Name used in `/stats` and in docs: "http_500", "reset_after_body", …
[[nodiscard]] const char* to_string(fault_kind k) noexcept;
inline constexpr std::size_t fault_kind_count = 13;

/// One fault rule. `POST /api/v1/email` requests are numbered 1, 2, … in
/// order of arrival (`GET /stats` is not counted and never faulted). A rule hits request n when
/// `n > after`, it has hit fewer than `times` requests, and a draw seeded by
/// (options::seed, n, rule position) falls below `rate` — so a run is
/// reproducible whatever the thread interleaving. Rules are tried in order;
/// the first hitting rule other than reject_address decides the answer;
/// every hitting reject_address rule applies.
struct fault_rule {
    fault_kind kind = fault_kind::http_500;
    double rate = 1.0;
    std::uint64_t after = 0;
    std::uint64_t times = UINT64_MAX;
    std::chrono::milliseconds delay{0};  ///< fault_kind::delay
    unsigned retry_after_seconds = 1;    ///< fault_kind::throttle
    std::string pattern;  ///< reject_address: ECMAScript regex, case-insensitive, searched
    injection::api_code code = injection::api_code::internal_error;  ///< fault_kind::api_code
};

struct tls_files {
    std::string cert_chain_file;   ///< PEM
    std::string private_key_file;  ///< PEM
};

/// The emulator as the platform's Event Webhooks: after a Validation
/// handshake, every accepted email gets a Queued event, then one outcome
/// drawn by the rates (hard bounce, soft bounce, deferral, else delivered),
/// then, when delivered, tracking and complaint events by their rates. Each
/// post is retried with backoff until it is answered 200. Draws are seeded
/// by (seed, address), so a run is reproducible.
struct event_options {
    /// http://HOST:PORT/PATH (plain HTTP), or several separated by commas
    /// (replicas of one receiver): posts go to each in turn, and a post
    /// that fails is retried on the next.
    std::string url;
    std::string secret_key;  ///< sent as SecretKey
    /// Expected in the handshake's answer; empty: any 200 with a body.
    std::string validation_key;
    std::string server_id = "1";
    bool form = false;      ///< legacy form encoding instead of JSON
    double per_second = 0;  ///< posts per second; 0: as fast as answered
    /// Posts in flight at once, each on its own keep-alive connection (the
    /// platform posts concurrently too). The handshake goes first, alone.
    std::size_t connections = 1;
    double hard_bounce_rate = 0.02, soft_bounce_rate = 0.02, deferral_rate = 0.03;
    double complaint_rate = 0.01, open_rate = 0.3, click_rate = 0.1, unsubscribe_rate = 0.01;
    std::uint64_t seed = 1;
    bool shuffle = false;  ///< post a batch's events in a seeded random order
};

/// The emulator as the platform's Inbound API (docs/emulator.md): after a
/// Validation handshake (`Type=Validation&SecretKey=…`, form-encoded), a
/// share of the accepted emails gets one parsed message posted back as the
/// Inbound API's JSON — a human reply, an out-of-office, a DSN, an ARF
/// complaint or an "unsubscribe" mail to the email's List-Unsubscribe
/// mailto — each retried with backoff until it is answered 200. Which email
/// gets which is drawn by (seed, address) (inbound_fate()), so a run is
/// reproducible and a test can predict it.
struct inbound_options {
    std::string url;         ///< http://HOST:PORT/PATH (plain HTTP)
    std::string secret_key;  ///< sent as SecretKey
    /// Expected in the handshake's answer; empty: any 200 with a body.
    std::string validation_key;
    std::size_t connections = 1;  ///< posts in flight at once
    /// Shares of accepted emails (added up at most 1); each email gets at
    /// most one message. An email without a `mailto:` List-Unsubscribe gets
    /// no unsubscribe reply.
    double reply_rate = 0, auto_reply_rate = 0, dsn_rate = 0, arf_rate = 0,
           unsubscribe_reply_rate = 0;
    std::uint64_t seed = 1;
};

/// The sibling APIs served on the same port (docs/marketing-and-reporting.md):
/// the Marketing API under `/marketing/v1/` and the legacy Reporting API at
/// `/v1/{method}`. Credentials: an empty value accepts anything non-empty.
struct sibling_options {
    /// Lists, contacts and unsubscribes are loaded from this JSON file at
    /// start (a missing file is an empty account) and written back, whole and
    /// atomically, at stop(). Empty: in memory only.
    std::string marketing_data_file;
    /// Contacts the account may hold in all its lists; an upsert that would
    /// add one more answers 403. 0: no limit.
    std::size_t max_contacts = 0;
    std::string marketing_api_key;  ///< Basic password; the user is the ServerId
    std::string reporting_user;     ///< Basic user of the Reporting API
    std::string reporting_api_key;  ///< Basic password of the Reporting API
    /// Keep the accepted and refused emails for the Reporting API (a few
    /// strings per email); off: its reports are empty.
    bool reporting = true;
    /// Planted disagreements for `salvo reconcile` tests: the first `forget`
    /// accepted emails are missing from messagesProcessed, and `invent`
    /// processed messages that never arrived are added (with the mailing id
    /// of the first accepted email, addresses invented-N@emulator.invalid).
    std::uint64_t forget = 0, invent = 0;
};

/// Everything the emulator can be told. Defaults: 127.0.0.1 port 0, two I/O
/// threads, any ServerId and any non-empty key accepted, the API's limits,
/// lenient merge, nothing recorded, no faults.
struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::size_t threads = 2;
    std::optional<tls_files> tls;

    /// Credentials. Empty server_id: any non-empty ServerId is accepted.
    /// Empty api_key: any non-empty key (body `ApiKey` or Bearer) is accepted.
    std::string server_id;
    std::string api_key;

    injection::limits limits{};
    std::size_t max_body_bytes = injection::server_max_request_bytes;
    std::size_t max_message_bytes = default_max_message_bytes;
    /// A placeholder with no value answers `InvalidMergeData` instead of
    /// rendering empty (INJECTION_API.md §3 policy).
    bool strict_merge = false;
    std::map<std::string, stored_template> templates;

    /// Answer every `POST /api/v1/email` with `Success` without parsing,
    /// validating or recording (for benchmarks). Faults still apply.
    bool discard = false;

    /// Append every accepted email as one NDJSON line to this file
    /// (truncated at start); empty: no file.
    std::string record_file;
    /// Keep every accepted email in memory (server::recorded()).
    bool record_in_memory = false;

    std::vector<fault_rule> faults;
    std::uint64_t seed = 1;

    /// Takes the endpoint down for `pause_for` when email request number
    /// `pause_after` + 1 arrives (that request's connection is reset, before
    /// its body is read): the listening socket closes (connections are
    /// refused) and every open connection is closed; after `pause_for` it
    /// listens again on the same port. 0 ms: never.
    std::chrono::milliseconds pause_for{0};
    std::uint64_t pause_after = 0;

    /// Post delivery events for accepted emails (see event_options).
    std::optional<event_options> events;
    /// Post inbound mail for accepted emails (see inbound_options).
    std::optional<inbound_options> inbound;

    sibling_options siblings;

    /// A connection idle this long between requests is closed silently.
    std::chrono::milliseconds idle_timeout{60000};
    /// A request whose headers or body take longer than this is answered 408.
    std::chrono::milliseconds read_timeout{30000};
};

}  // namespace salvo::emulator
