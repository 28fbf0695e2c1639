#pragma once

#include <cstddef>
#include <filesystem>

namespace salvo::cli {

/// Renders the sample campaign's templates for a few example recipients
/// and prints them. Returns the process exit code; throws std::runtime_error
/// when a template file cannot be read or does not compile.
int run_merge_demo(const std::filesystem::path& campaign_dir, std::size_t rows_to_show);

}  // namespace salvo::cli
