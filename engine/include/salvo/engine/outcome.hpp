#pragma once
/// What a job decides for each recipient row, as embedders see it: the
/// fates, the results line, and what a previous run left (job::recovered()).
/// The ledger that writes them (engine/src/ledger.hpp) is the engine's own.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::engine {

/// What finally happened to one recipient row.
enum class fate : std::uint8_t {
    accepted,
    rejected,
    failed,
    invalid,
    duplicate,
    suppressed,
    unknown
};
inline constexpr std::size_t fate_count = 7;

[[nodiscard]] std::string_view to_string(fate f) noexcept;
[[nodiscard]] std::optional<fate> parse_fate(std::string_view s) noexcept;

/// One decided row, as the results file shows it. Views are borrowed for
/// the duration of the call that takes them.
struct row_outcome {
    std::uint64_t row = 0;   ///< record number, from 1
    std::uint64_t line = 0;  ///< line where the record starts
    std::string_view email;
    fate status = fate::accepted;
    std::string_view code;        ///< API code (rejected), or empty
    std::string_view error;       ///< human reason (invalid, failed, unknown), or empty
    std::uint32_t attempts = 0;   ///< sends of this row's request, 0 if never sent
    std::string_view message_id;  ///< the rendered MessageId, or empty
    bool ambiguous = false;       ///< re-sent after a maybe-delivered outcome
};

/// Appends the results line for `o` (with its newline): keys `row`, `line`,
/// `email`, `status`, then `code`, `error`, `attempts`, `message_id` and
/// `ambiguous` only where they apply.
void append_results_line(std::string& out, const row_outcome& o);

/// What defines a campaign, as named parts (templates, merge mode, the
/// recipients file's identity, the suppression list…), each a hash in hex.
/// Two fingerprints match when every part matches; a mismatch names the
/// parts that differ.
struct job_fingerprint {
    std::map<std::string, std::string> parts;

    [[nodiscard]] std::string to_json() const;
    /// The names of parts that differ (present in one, or with other values).
    [[nodiscard]] std::vector<std::string> differences(const job_fingerprint& other) const;
};

/// What a previous run left: the decided rows, the rows that were sent but
/// not decided (maybe delivered), counts per fate.
struct ledger_state {
    bool fresh = true;                    ///< no journal existed
    bool finished = false;                ///< the journal ends with E
    std::vector<bool> decided;            ///< indexed by row number
    std::vector<std::uint64_t> in_doubt;  ///< dispatched, no fate: ascending
    std::array<std::uint64_t, fate_count> counts{};
    std::uint64_t ambiguous = 0;
    std::uint64_t journal_bytes_dropped = 0;  ///< a torn last record cut off
    std::string detail;                       ///< for other_campaign: which parts differ
    job_fingerprint recorded;                 ///< for other_campaign: the journal's own
    std::uint64_t reopened = 0;               ///< rows reopened by reopen_failed()
    /// The journal's server_id when this resume changed it (only while no
    /// row can have been accepted under the old one); empty otherwise.
    std::string server_id_was;
    /// For other_campaign when only server_id differs: rows dispatched
    /// with no outcome (counts and ambiguous are filled in too).
    std::uint64_t unsettled = 0;

    [[nodiscard]] bool is_decided(std::uint64_t row) const noexcept {
        return row < decided.size() && decided[row];
    }
};

/// The ledger's writes and fsyncs, as a seam: a test replaces it to model a
/// power cut (what was not fsynced is lost), as leveldb's fault-injection
/// environment does. The default does the system calls.
class ledger_io {
  public:
    virtual ~ledger_io() = default;
    /// Writes all of `data` at the descriptor's offset; false with errno set.
    [[nodiscard]] virtual bool write(int fd, std::string_view data);
    /// fsync(2): 0, or -1 with errno set.
    [[nodiscard]] virtual int sync(int fd);
};

}  // namespace salvo::engine
