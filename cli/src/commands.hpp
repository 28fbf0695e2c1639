#pragma once
// The subcommands of `salvo`; each returns the process exit code.

#include "common.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace salvo::cli {

struct send_args {
    std::filesystem::path job_file;
    std::optional<std::string> endpoint, merge, results, journal;
    std::optional<double> rate;
    std::optional<std::size_t> max_in_flight;
    std::vector<std::string> sets;
    bool restart = false;
    bool retry_failed = false;
    bool accept_changed_source = false;  ///< recipients.marketing_list changed: go on
    std::string report_file;
    progress_mode progress = progress_mode::automatic;
    std::string proof;  ///< comma-separated addresses; empty: a real run
    std::size_t proof_rows = 1;
    std::optional<std::string> shard;          ///< --shard K/N
    std::optional<std::uint32_t> shard_count;  ///< --shard-count N (K: JOB_COMPLETION_INDEX)
};

/// The shard `--shard K/N`, or `--shard-count N` with K from the
/// environment variable JOB_COMPLETION_INDEX (as a Kubernetes Indexed Job
/// sets it), names: nothing when neither is given; the error is a complete
/// message saying what to do.
[[nodiscard]] boost::system::result<std::optional<engine::shard_spec>, std::string> shard_of_flags(
    const std::optional<std::string>& shard, const std::optional<std::uint32_t>& shard_count);

/// Makes `cfg` that shard; an error when the job file's own `shard` key
/// names another one.
[[nodiscard]] std::optional<std::string> use_shard(engine::job_config& cfg,
                                                   const std::optional<engine::shard_spec>& shard);

struct shards_report_args {
    std::filesystem::path job_file;
    std::vector<std::string> sets;
    std::uint32_t of = 0;
    bool json = false;
};

/// `salvo shards report`: the shards' results summed, and every row of the
/// input decided in exactly one shard (exit 0), or the missing and doubled
/// rows (exit 1).
int run_shards_report(const shards_report_args& a);

/// The overrides `--endpoint`, `--rate`, … stand for, then every `--set`.
[[nodiscard]] std::vector<std::string> overrides_of(const send_args& a);

int run_send(const send_args& a);

struct emulate_args {
    std::string listen = "127.0.0.1";
    std::string record;
    std::string server_id;
    std::string api_key_env;
    std::size_t threads = 2;
    bool discard = false;
    std::string pause;                ///< DURATION@AFTER: down for DURATION after AFTER requests
    std::vector<std::string> faults;  ///< KIND[:RATE][@AFTER][xTIMES]
    std::vector<std::string> fail_rates;  ///< STATUS:RATE
    unsigned retry_after = 1;
    std::string reject_pattern;
    std::uint64_t delay_ms = 0;
    std::uint64_t seed = 1;
    std::string tls_cert;  ///< PEM certificate chain; with tls_key: serve HTTPS
    std::string tls_key;   ///< PEM private key
    // Event Webhooks (emulator::event_options); events_url empty: none.
    std::string events_url, events_secret_env, events_validation_key_env;
    std::string events_format = "json";
    double events_per_second = 0;
    std::size_t events_connections = 4;
    std::optional<double> hard_bounce_rate, soft_bounce_rate, deferral_rate, complaint_rate,
        open_rate, click_rate, unsubscribe_rate;
    std::uint64_t events_seed = 1;
    bool events_shuffle = false;
    // The Inbound API (emulator::inbound_options); inbound_url empty: none.
    std::string inbound_url, inbound_secret_env, inbound_validation_key_env;
    double reply_rate = 0, auto_reply_rate = 0, dsn_rate = 0, arf_rate = 0,
           unsubscribe_reply_rate = 0;
    std::uint64_t inbound_seed = 1;
    // The Marketing and Reporting APIs (emulator::sibling_options).
    std::string marketing_data;
    std::size_t max_contacts = 0;
    std::string marketing_api_key_env, reporting_user, reporting_api_key_env;
    std::uint64_t report_forget = 0, report_invent = 0;
};

int run_emulate(const emulate_args& a);

/// `salvo listen`: command-line values win over the config file's.
struct listen_args {
    std::string config_file;  ///< optional JSON file with the same keys
    std::optional<std::string> listen, db, secret_key_env, secret_key_file, validation_key_env,
        validation_key_file, server_id, tls_cert, tls_key, inbound_dir, unsubscribe_secret_env,
        unsubscribe_secret_file, on_reply, forward_url;
    std::vector<std::string> unsubscribe_mailto;
    std::optional<std::size_t> reply_concurrency;
    std::optional<unsigned> reply_timeout, reply_attempts;  ///< seconds; runs
    std::optional<std::size_t> threads;
    std::optional<unsigned> soft_bounce_count, soft_bounce_days;
};

int run_listen(listen_args a);

/// ADDR:PORT (or [v6]:PORT) into its parts; false when malformed.
/// HOST:PORT (a name, an IPv4 address or a bracketed IPv6 one) into a
/// numeric address and a port; false with the reason in `error`.
[[nodiscard]] bool split_host_port(const std::string& spec, std::string& host, std::uint16_t& port,
                                   std::string& error);

struct suppressions_args {
    std::string action;  ///< export, add or remove
    std::string db;
    std::vector<std::string> addresses;
    std::string file;  ///< add/remove: one address per line
    std::string reason = "manual";
    std::string out;  ///< export: this file instead of stdout
    bool with_reason = false;
    bool with_source = false;
};

int run_suppressions(const suppressions_args& a);

struct status_args {
    std::filesystem::path job_file;
    std::vector<std::string> sets;
    std::string db;  ///< empty: the job's suppression db, else events.sqlite
    bool json = false;
    std::string rows_file;
};

int run_status(const status_args& a);

/// `salvo lists ACTION`: the Marketing API's contact lists.
struct lists_args {
    std::string action;              ///< ls, export, push or unsubscribe
    std::filesystem::path job_file;  ///< optional: server_id, marketing.*, transport keys
    std::vector<std::string> sets;
    std::uint64_t list_id = 0;
    std::size_t page_size = 0;  ///< 0: the client's default (1000)
    bool json = false;          ///< ls: a JSON array
    std::string out;            ///< export: this file instead of stdout
    std::string format = "ndjson";
    std::string file;  ///< push: the contacts
    std::string fields;
    std::string email_column = "email", first_name_column = "first_name",
                last_name_column = "last_name";
    std::string results = "push-results.ndjson";
    std::string db, since;  ///< unsubscribe
};

int run_lists(const lists_args& a);

/// `recipients.marketing_list`: copies the list page by page to
/// `job.recipients.path` (NDJSON: email, first_name, last_name, then every
/// custom field). An unchanged list keeps the existing copy, so a resume's
/// fingerprint matches; a changed list with a journal is refused with the
/// way on (unless `restart`; with `accept_changed` the decided rows' files
/// move aside to `.before-change-N` and only the contacts whose address no
/// row decided are sent). Prints what it did; returns an exit code (exit_ok to go on).
int fetch_marketing_list(const engine::job_config& job, bool restart, bool accept_changed);

/// `results` and the `<results>.before-change-N` files an accepted list
/// change moved aside (reconcile reads them all), in that order.
[[nodiscard]] std::vector<std::filesystem::path> results_files(
    const std::filesystem::path& results);

/// `salvo reconcile`: the ledger and events against the Reporting API.
struct reconcile_args {
    std::filesystem::path job_file;
    std::vector<std::string> sets;
    std::string db;  ///< empty: the job's suppression db if any
    bool json = false;
    std::size_t examples = 10;
};

int run_reconcile(const reconcile_args& a);

int run_validate(const std::filesystem::path& job_file, const std::vector<std::string>& sets);

int run_demo(const std::filesystem::path& campaign_dir);

int run_preview(const std::filesystem::path& job_file, const std::vector<std::string>& sets,
                std::size_t rows, const std::string& out_dir, bool request);

}  // namespace salvo::cli
