#pragma once
// The CRC-32 of a file's bytes, for the recipients file's identity in the
// journal's header (job_setup.cpp).

#include <cstdint>
#include <filesystem>
#include <optional>

namespace salvo::engine::detail {

/// The CRC-32 (zlib's, the gzip polynomial) of the whole file at `p`, or
/// nothing when it cannot be opened or read. A large file is read in up to
/// `parts` pieces at once, one thread each, whose CRCs are then combined:
/// the identity is taken before anything is sent, so on a 2-core machine it
/// costs the run its wall time, and a 10 M-row file is 880 MB.
[[nodiscard]] std::optional<std::uint32_t> file_crc32(const std::filesystem::path& p,
                                                      unsigned parts = 0);

}  // namespace salvo::engine::detail
