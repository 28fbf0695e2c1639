#pragma once
// Pieces every `salvo` subcommand shares: exit codes and the rendering
// setup of preview and validate; signals.hpp, progress.hpp and files.hpp
// hold the rest.

#include "files.hpp"
#include "progress.hpp"
#include "signals.hpp"

#include <salvo/engine/campaign.hpp>
#include <salvo/engine/job.hpp>

#include <memory>
#include <optional>
#include <string>

namespace salvo::cli {

/// The process exit codes (docs/operations.md, "Command line").
enum exit_code : int {
    exit_ok = 0,       ///< finished, nothing rejected, failed or unknown
    exit_some = 1,     ///< finished with rejected, failed or unknown rows
    exit_usage = 2,    ///< usage, job file, template or input error: nothing sent
    exit_stopped = 3,  ///< stopped early (auth, TLS, signal, auto-pause): resumable
};

/// The exit code a finished report calls for.
[[nodiscard]] int exit_code_for(const engine::report& r) noexcept;

/// What `salvo preview` and `salvo validate` render with: the job, its
/// recipients opened, its message compiled, its validator and a request
/// writer built with the given key.
struct rendering {
    engine::job_config cfg;
    std::unique_ptr<engine::recipient_source> src;
    engine::compiled_message message;
    std::unique_ptr<engine::suppression_list> suppressed;  // outlives check
    std::optional<engine::validator> check;
    std::shared_ptr<const injection::request_writer> writer;
};

/// Prepares a rendering; on any error prints "salvo: <message>" and
/// returns nothing (exit_usage territory). `key` is what the writer puts in
/// the requests it renders (nothing is sent).
[[nodiscard]] std::optional<rendering> prepare_rendering(engine::job_config cfg, std::string key);

}  // namespace salvo::cli
