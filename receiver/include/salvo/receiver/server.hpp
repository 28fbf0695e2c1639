#pragma once
/// `salvo listen`: the HTTP(S) endpoint SocketLabs' Event Webhooks post to.
///
/// Routes: `POST /notifications` (events, JSON or form), `POST /inbound`
/// (the Inbound API: parsed mail, classified and stored; attachments as
/// files named by their SHA-256), `GET`/`POST /unsubscribe?t=TOKEN` (RFC
/// 8058 one-click unsubscribe), `GET /healthz`, `GET /metrics` (Prometheus
/// text). Every post is checked against the
/// SecretKey (and the ServerId, when configured): a mismatch is 401 and
/// nothing is stored. Events are handed to one writer thread that commits
/// them in batches; a post is answered 200 (with the Validation Key in the
/// body) only after the transaction holding its events has committed, and
/// 503 when the store fails, so the platform's retries make a killed or
/// failing receiver lose nothing.

#include <salvo/store/store.hpp>

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace salvo::receiver {

/// The port `salvo listen` uses unless told otherwise: next to `salvo
/// emulate`'s 8465. The library itself binds port 0 by default.
inline constexpr std::uint16_t default_port = 8466;

struct tls_files {
    std::string cert_chain_file;   ///< PEM
    std::string private_key_file;  ///< PEM
};

/// Everything the receiver can be told. Both keys are required.
struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::size_t threads = 2;  ///< I/O threads (the writer thread is extra)
    std::optional<tls_files> tls;

    /// The SecretKey every event must carry (the endpoint's secret in the
    /// SocketLabs control panel).
    std::string secret_key;
    /// Written in the body of every 200 answer (the platform checks it).
    std::string validation_key;
    /// When set, every event's ServerId must equal it.
    std::optional<std::string> server_id;

    std::size_t max_body_bytes = 1024 * 1024;         ///< above: 413
    std::size_t max_connections = 1024;               ///< more are closed at once
    std::chrono::milliseconds header_timeout{10000};  ///< headers of a request: 408
    std::chrono::milliseconds body_timeout{30000};    ///< its body: 408
    std::chrono::milliseconds idle_timeout{60000};    ///< between requests: closed
    /// At most this many events in one transaction.
    std::size_t max_batch_events = 4096;

    /// The Inbound API's folder: `spool/` (bodies being received) and
    /// `attachments/<sha256>`. Empty: `POST /inbound` answers 404.
    std::filesystem::path inbound_dir;
    std::size_t max_inbound_bytes = 50 * 1024 * 1024;  ///< above: 413
    /// Bodies up to this size are read into memory; larger ones are
    /// spooled to a file and parsed from there.
    std::size_t inbound_memory_bytes = 1024 * 1024;
    /// Inbound bodies parsed at once (each needs its size in memory).
    std::size_t inbound_parsers = 2;
    /// The campaigns' `unsubscribe.mailto` addresses (unsubscribe by mail).
    std::vector<std::string> unsubscribe_mailto;
    /// The one-click token secret (`unsubscribe.secret_env`); empty:
    /// `/unsubscribe` answers 404.
    std::string unsubscribe_secret;

    /// Human replies (inbound kind `reply`) handed on after their commit,
    /// never delaying an answer (docs/inbound-and-unsubscribe.md). `on_reply`:
    /// a command line, split into words like a shell's (split_command) and
    /// run without a shell, the reply's stored JSON on its standard input.
    std::string on_reply;
    /// Each reply's stored JSON re-POSTed here through salvo::transport
    /// (its retry rules: 429/5xx/connection errors, Retry-After, backoff).
    std::string forward_url;
    std::size_t reply_concurrency = 2;               ///< commands / forwards at once
    std::chrono::milliseconds reply_timeout{30000};  ///< a command running longer is killed
    unsigned reply_attempts = 3;                     ///< a failing command runs at most this often
    std::chrono::milliseconds reply_backoff{1000};   ///< before its 2nd run; doubled after
    std::chrono::milliseconds reply_retry_total{300000};  ///< a forward's retries, in all
    std::size_t reply_queue = 10000;  ///< replies waiting; more are not handed on (counted)
};

/// Splits a command line into words as a POSIX shell would (quotes,
/// backslashes, `$VAR`) without running one: wordexp(3) with command
/// substitution refused. Pipes, redirections, `;` and `&` are refused (they
/// need a shell: `sh -c '…'`). Error: invalid_argument, `why` saying why.
[[nodiscard]] boost::system::error_code split_command(const std::string& line,
                                                      std::vector<std::string>& argv,
                                                      std::string& why);

/// Counters behind `GET /metrics`, for tests and the command line.
struct stats {
    std::uint64_t events_stored = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t inbound_stored = 0, inbound_duplicates = 0;
    std::uint64_t one_click = 0;
    std::uint64_t commits = 0;
    std::uint64_t answered_200 = 0, answered_400 = 0, answered_401 = 0, answered_413 = 0,
                  answered_503 = 0;
    /// Replies handed on: commands that succeeded, were run again after a
    /// failure, failed for good; forwards likewise (retried counts extra
    /// attempts); replies not handed on because the queue was full or
    /// listen stopped; the last failure in words.
    std::uint64_t command_ok = 0, command_retried = 0, command_failed = 0;
    std::uint64_t forward_ok = 0, forward_retried = 0, forward_failed = 0;
    std::uint64_t handoff_dropped = 0;
    std::string last_handoff_error;
};

/// The running receiver. start() opens nothing itself: it takes the store
/// (the writer thread owns it from then on), binds, and starts the I/O
/// threads and the writer. stop() (or the destructor) stops accepting,
/// lets the writer commit what is queued and answer it, then closes every
/// connection and joins. Member functions are thread-safe.
/// Errors of start(): the bind/listen system error, `invalid_argument` for
/// a missing key or zero threads, `no_such_file_or_directory` for TLS files
/// that do not load.
class server {
  public:
    [[nodiscard]] static boost::system::result<std::unique_ptr<server>> start(
        options opts, std::unique_ptr<store::event_store> store);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept;
    /// "http://127.0.0.1:PORT" ("https://…" with TLS), without a path.
    [[nodiscard]] std::string base_url() const;
    /// The `GET /metrics` text.
    [[nodiscard]] std::string metrics_text() const;
    [[nodiscard]] stats counters() const;

    /// Idempotent.
    void stop();

    struct impl;

  private:
    explicit server(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace salvo::receiver
