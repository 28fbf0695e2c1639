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
    std::string report_file;
    progress_mode progress = progress_mode::automatic;
    std::string proof;  ///< comma-separated addresses; empty: a real run
    std::size_t proof_rows = 1;
};

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
    std::vector<std::string> faults;      ///< KIND[:RATE][@AFTER][xTIMES]
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
    std::optional<double> hard_bounce_rate, soft_bounce_rate, deferral_rate, complaint_rate,
        open_rate, click_rate, unsubscribe_rate;
    std::uint64_t events_seed = 1;
    bool events_shuffle = false;
};

int run_emulate(const emulate_args& a);

/// `salvo listen`: command-line values win over the config file's.
struct listen_args {
    std::string config_file;  ///< optional JSON file with the same keys
    std::optional<std::string> listen, db, secret_key_env, secret_key_file, validation_key_env,
        validation_key_file, server_id, tls_cert, tls_key, inbound_dir, unsubscribe_secret_env,
        unsubscribe_secret_file;
    std::vector<std::string> unsubscribe_mailto;
    std::optional<std::size_t> threads;
    std::optional<unsigned> soft_bounce_count, soft_bounce_days;
};

int run_listen(listen_args a);

/// ADDR:PORT (or [v6]:PORT) into its parts; false when malformed.
[[nodiscard]] bool split_host_port(const std::string& spec, std::string& host, std::uint16_t& port);

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

int run_validate(const std::filesystem::path& job_file, const std::vector<std::string>& sets);

int run_demo(const std::filesystem::path& campaign_dir);

int run_preview(const std::filesystem::path& job_file, const std::vector<std::string>& sets,
                std::size_t rows, const std::string& out_dir, bool request);

}  // namespace salvo::cli
