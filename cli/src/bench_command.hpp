#pragma once
// `salvo bench`: end-to-end throughput of a whole job (generated recipients,
// the realistic newsletter, merge, request writing, the transport) against an
// in-process discarding emulator on loopback or any given endpoint.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace salvo::cli {

/// One progress sample of a bench run.
struct bench_sample {
    double seconds = 0;
    std::uint64_t accepted = 0;
    std::uint64_t in_flight = 0;
};

/// CPU seconds (user + system) of the threads of one role.
struct cpu_split {
    std::string role;
    double user = 0;
    double sys = 0;
};

/// What a bench run measured; printed as a table or JSON.
struct bench_result {
    std::string merge, endpoint, status;
    std::uint64_t rows = 0, accepted = 0, not_accepted = 0, requests = 0, retries = 0;
    std::uint64_t bytes_out = 0, bytes_in = 0;
    double seconds = 0;
    double latency_p50_ms = 0, latency_p90_ms = 0, latency_p99_ms = 0;
    double cpu_user = 0, cpu_sys = 0;
    double peak_rss_mib = 0;
    double generate_seconds = 0;  ///< wall time inside the row generator (reading)
    std::size_t threads = 0, max_in_flight = 0, messages_per_request = 0,
                recipients_per_message = 0, message_bytes = 0;
    std::vector<cpu_split> split;
    std::vector<bench_sample> samples;

    [[nodiscard]] std::string to_table() const;
    [[nodiscard]] std::string to_json() const;
    /// A self-contained SVG line chart of accepted rows per second over time.
    [[nodiscard]] std::string to_svg() const;
};

/// Registers the `bench` subcommand on `app`; its callback runs the bench
/// and sets `exit_code` (0 when every row was accepted, 1 when some were not,
/// 2 when the run could not start).
void add_bench_command(CLI::App& app, int& exit_code);

}  // namespace salvo::cli
