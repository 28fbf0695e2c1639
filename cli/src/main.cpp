// The salvo command line.
#include "bench_command.hpp"
#include "demo.hpp"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <exception>
#include <filesystem>

int main(int argc, char** argv) {
    CLI::App app{"salvo: bulk mail-merge and injection for the SocketLabs Injection API"};
    app.set_version_flag("--version", "salvo " SALVO_VERSION);
    app.require_subcommand(1);

    std::filesystem::path campaign = std::filesystem::path(SALVO_SOURCE_DIR) / "samples/campaign";
    std::size_t rows = 4;
    auto* demo =
        app.add_subcommand("demo", "Render the sample campaign's templates for example recipients");
    demo->add_option("--campaign", campaign, "Folder holding body.txt and body.html")
        ->check(CLI::ExistingDirectory);
    demo->add_option("--rows", rows, "How many example recipients to render (at most 4)");
    int exit_code = 0;
    salvo::cli::add_bench_command(app, exit_code);

    CLI11_PARSE(app, argc, argv);
    try {
        if (*demo) return salvo::cli::run_merge_demo(campaign, rows);
        if (exit_code != 0) return exit_code;
    } catch (const std::exception& e) {
        fmt::print(stderr, "salvo: {}\n", e.what());
        return 2;
    }
    return 0;
}
