#pragma once
/// The job file: what a campaign is (templates, recipients, merge mode) and
/// how to send it (endpoint, limits, rate, retry, timeouts, TLS). Parsed from
/// JSON with simdjson (CLI11 cannot read JSON), with `--set key.path=value`
/// overrides applied through the same key table, so a key means the same
/// thing in the file and on the command line.

#include <salvo/merge/template.hpp>

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace salvo::transport {
struct client_options;
}  // namespace salvo::transport

namespace salvo::engine {

enum class merge_mode { local, server };
enum class ambiguous_policy { resend, hold };
enum class missing_field_policy { empty, invalid };

struct address_spec {
    std::string email;
    std::string name;
};

/// A template given inline or as a file (read when the job is loaded).
struct template_text {
    bool present = false;
    std::filesystem::path file;  ///< set when given as {"file": …}; resolved
    std::string content;
    /// Where it came from, for messages: "message.subject" or the file path.
    std::string origin;
};

struct attachment_spec {
    std::filesystem::path file;  ///< resolved against the job file's folder
    std::string name;            ///< defaults to the file's name
    std::string content_id;      ///< makes it an inline part (`cid:`)
    std::string content_type;    ///< defaults from the extension
};

struct recipients_spec {
    std::filesystem::path path;  ///< "-" is standard input
    /// A Marketing API contact list instead of a file (`salvo send` copies
    /// it page by page to `path`, `<journal>.list-<id>.ndjson`, and sends
    /// from that copy); 0: none.
    std::uint64_t marketing_list = 0;
    std::string format;  ///< empty: from the extension
    std::string email = "email";
    std::string name = "name";
    std::string encoding = "utf-8";
    std::string delimiter;  ///< empty: from the format
};

struct message_spec {
    address_spec from;
    std::optional<address_spec> reply_to;
    template_text subject, text, html, amp;
    std::string mailing_id, message_id, charset;
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<attachment_spec> attachments;
    std::vector<std::pair<std::string, std::string>> metadata;
    std::vector<std::string> tags;
};

struct unsubscribe_spec {
    std::string url;
    std::string mailto;
    /// The environment variable holding the one-click token secret; when
    /// set, every row has the built-in field `salvo_unsubscribe_token`
    /// (platform/unsubscribe_token.hpp) for use in `url`.
    std::string secret_env;
    std::size_t expiry_days = 0;  ///< tokens expire after this many days; 0: never
};

struct limits_spec {
    std::size_t messages_per_request = 10;
    std::size_t recipients_per_message = 50;
    std::size_t max_request_bytes = 10 * 1024 * 1024;
};

/// One account quota shared by several processes through Redis
/// (`rate.shared`, docs/shared-quota.md). Off while `redis` is empty.
struct shared_rate_spec {
    std::string redis;                    ///< redis://HOST:PORT/DB or unix:///path?db=N
    std::string key;                      ///< the quota's name, the same in every process
    double emails_per_second = 0;         ///< 0: no emails limit
    double requests_per_second = 0;       ///< 0: no requests limit
    std::string password_env;             ///< a variable holding Redis' password
    std::filesystem::path password_file;  ///< a file holding it; wins over the variable
    /// Redis unreachable this long stops the job (exit 3, rows pending);
    /// unset: retry.give_up_after.
    std::optional<std::chrono::milliseconds> give_up_after;
    bool present = false;  ///< some rate.shared key was given (set when the job is loaded)
};

struct rate_spec {
    double emails_per_second = 0;    ///< 0: unlimited
    double requests_per_second = 0;  ///< 0: unlimited
    std::size_t max_in_flight = 16;
    double burst_seconds = 1.0;         ///< bucket depth, in seconds of rate
    std::size_t emails_per_minute = 0;  ///< quotas; 0: none
    std::size_t emails_per_hour = 0;
    std::size_t emails_per_day = 0;
    bool adaptive = false;  ///< halve the rate on 429/OverQuota, raise it when quiet
    shared_rate_spec shared;
};

struct retry_spec {
    /// Attempts per request; attempts during an outage (open circuit) do not
    /// count. High enough that transient 5xx never fail a row by count.
    std::size_t max_attempts = 25;
    std::size_t base_delay_ms = 1000;
    std::size_t max_delay_ms = 30000;
    /// An outage (or one request's transient failures) lasting this long
    /// stops the job with exit 3, rows pending.
    std::chrono::milliseconds give_up_after{600'000};
    double budget_ratio = 0.2;  ///< retries beyond this share of requests wait
    ambiguous_policy ambiguous = ambiguous_policy::resend;
};

struct timeouts_spec {
    std::size_t connect_ms = 10000;
    std::size_t request_ms = 120000;
};

struct tls_spec {
    std::filesystem::path ca_file;
    bool insecure = false;
};

struct auto_pause_spec {
    double failure_share = 0.5;
    std::size_t window_requests = 200;
};

/// One source of addresses a job must not send to: a file (one address per
/// line, or a CSV with an email column) or an event database that
/// `salvo listen` fills (its suppression table).
struct suppression_source {
    enum class kind : std::uint8_t { file, db };
    kind type = kind::file;
    std::filesystem::path path;
};

/// The Marketing API (job key `marketing`): contact lists. The key is read
/// from `api_key_file` when set, else from the variable `api_key_env`.
struct marketing_spec {
    std::string endpoint = "https://api.socketlabs.com/marketing/v1";
    std::string api_key_env = "SOCKETLABS_MARKETING_API_KEY";
    std::filesystem::path api_key_file;
};

/// The legacy Reporting API (job key `reporting`), for `salvo reconcile`.
struct reporting_spec {
    std::string endpoint = "https://api.socketlabs.com/v1";
    std::string user;  ///< the control-panel user name (Basic user)
    std::string api_key_env = "SOCKETLABS_REPORTING_API_KEY";
    std::filesystem::path api_key_file;
    /// Accepted rows younger than this are not yet expected in the reports.
    std::size_t grace_seconds = 300;
};

/// Which part of the rows a process sends (job key `shard`, `salvo send
/// --shard K/N` or `--shard-count N` with `JOB_COMPLETION_INDEX`): shard
/// `index` of `count`, 0 <= index < count. A row whose canonical address
/// hashes to `index` mod `count` (address_set::hash_of: XXH3-64, seed 0, a
/// hash fixed across processes, versions and machines) belongs to it; a row
/// without a usable address belongs to shard `row` mod `count`. count 0: the
/// job is not sharded.
struct shard_spec {
    std::uint32_t index = 0;
    std::uint32_t count = 0;

    [[nodiscard]] bool active() const noexcept { return count != 0; }
    /// "K/N" (the form `--shard` and the job key take).
    [[nodiscard]] std::string text() const;
    friend bool operator==(const shard_spec&, const shard_spec&) = default;
};

/// Reads "K/N" (0 <= K < N, N >= 1). The error is a complete sentence that
/// says what to give instead; `what` names where the text came from
/// ("--shard", "the job key shard").
[[nodiscard]] boost::system::result<shard_spec, std::string> parse_shard(std::string_view text,
                                                                         std::string_view what);

/// `path` with `.shard-K-of-N` inserted before its extension:
/// `results.ndjson` -> `results.shard-2-of-8.ndjson`, `campaign.journal` ->
/// `campaign.shard-2-of-8.journal`, `out` -> `out.shard-2-of-8`.
[[nodiscard]] std::filesystem::path sharded_path(const std::filesystem::path& path,
                                                 const shard_spec& shard);

/// The inverse of sharded_path(): `path` without its `.shard-K-of-N`
/// (unchanged when it has none).
[[nodiscard]] std::filesystem::path unsharded_path(const std::filesystem::path& path,
                                                   const shard_spec& shard);

/// A whole job. Paths are already resolved against the job file's folder.
/// The API key itself is never stored here: only where to find it.
struct job_config {
    std::filesystem::path job_file;  ///< empty when built in code
    std::string endpoint = "https://inject.socketlabs.com/api/v1/email";
    std::string server_id;  ///< as text; the file may give a number or a string
    std::string api_key_env = "SOCKETLABS_API_KEY";
    std::filesystem::path api_key_file;
    recipients_spec recipients;
    message_spec message;
    unsubscribe_spec unsubscribe;
    std::vector<merge::global_field> globals;
    merge_mode merge = merge_mode::local;
    bool html_escape = true;
    missing_field_policy missing_field = missing_field_policy::empty;
    bool dedupe = true;
    /// Job key `suppression`: a path, {"db": path}, {"file": path}, or a list of them.
    std::vector<suppression_source> suppression;
    limits_spec limits;
    rate_spec rate;
    retry_spec retry;
    timeouts_spec timeouts;
    tls_spec tls;
    std::string proxy;
    auto_pause_spec auto_pause;
    std::filesystem::path results = "results.ndjson";
    std::filesystem::path journal = "campaign.journal";
    std::size_t threads = 0;  ///< TBB workers; 0: pipeline_threads() decides
    /// The shard this process sends; when active, `results`, `journal` (and
    /// a Marketing list's copy) are already the shard's own paths.
    shard_spec shard;
    marketing_spec marketing;
    reporting_spec reporting;
};

/// Why a job could not be loaded: the key (or file) at fault and a complete
/// message naming it. Never holds an API key.
struct job_error {
    std::string key;
    std::string message;
};

/// Parses a job from JSON text. `base_dir` resolves relative paths (template
/// files are read now, so a missing one is an error here). `overrides` are
/// `key.path=value` strings applied after the file, as `--set` gives them.
[[nodiscard]] boost::system::result<job_config, job_error> parse_job(
    std::string_view json, const std::filesystem::path& base_dir,
    std::span<const std::string> overrides = {});

/// Reads and parses a job file; paths in it are relative to its folder.
[[nodiscard]] boost::system::result<job_config, job_error> load_job_file(
    const std::filesystem::path& file, std::span<const std::string> overrides = {});

/// The job-file reference as Markdown (`salvo help job-file`,
/// docs/job-file.md): every key, what it takes, its default, what it does.
[[nodiscard]] std::string job_file_reference();

/// The rendering threads a job runs with: `threads` when set; otherwise
/// every core in server mode (the network thread moves few, large requests
/// and needs little CPU), and one less than the cores in local mode (where
/// the network thread needs a core of its own).
[[nodiscard]] std::size_t pipeline_threads(const job_config& job);

/// Keys of the parser without a reference entry, and entries without a key:
/// empty when the two agree.
[[nodiscard]] std::vector<std::string> undocumented_keys();

/// Makes `job` shard `shard` of its campaign: records it and inserts
/// `.shard-K-of-N` into `results`, `journal` and, for a Marketing list, the
/// list's local copy. For a job whose file has no `shard` key (the file's
/// key is applied when it is loaded); the caller checks that the two agree.
void apply_shard(job_config& job, const shard_spec& shard);

/// Applies one `key.path=value` override to a loaded job.
[[nodiscard]] std::optional<job_error> apply_override(job_config& job, std::string_view assignment,
                                                      const std::filesystem::path& base_dir);

/// The API key from `api_key_file` when set, else from the environment
/// variable `api_key_env`, trimmed of surrounding white space. The error
/// names the variable or file, never a key.
[[nodiscard]] boost::system::result<std::string, job_error> resolve_api_key(const job_config& job);

/// The same for another key: `key_name` ("marketing", "reporting") prefixes
/// the job keys the error names.
[[nodiscard]] boost::system::result<std::string, job_error> resolve_secret(
    const std::string& env, const std::filesystem::path& file, std::string_view key_name);

/// Redis' password for rate.shared: from `password_file` when set, else the
/// variable `password_env`, else none (""). The error names the key, never
/// the password.
[[nodiscard]] boost::system::result<std::string, job_error> resolve_shared_quota_password(
    const job_config& job);

/// The transport's settings from the job (in-flight window, timeouts, TLS,
/// proxy, rates, retry), as `send` uses them and the sibling-API commands too.
[[nodiscard]] transport::client_options transport_options(const job_config& config,
                                                          std::string user_agent_version);

/// Lets result<…, job_error>::value() throw std::runtime_error(message).
[[noreturn]] void throw_exception_from_error(const job_error& e, const boost::source_location& loc);

}  // namespace salvo::engine
