#pragma once
/// Row validation: the email address check, duplicate detection and the
/// suppression list. Each row gets one fate, which the ledger records.

#include <salvo/engine/chunk.hpp>
#include <salvo/engine/error.hpp>
#include <salvo/engine/source.hpp>
#include <salvo/injection/message.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace salvo::engine {

/// What validation decided for a row (`valid` rows go on to be sent).
enum class validity : std::uint8_t {
    valid,
    invalid,     ///< a malformed record or an unusable address
    duplicate,   ///< the same address as an earlier valid row of this job
    suppressed,  ///< the address is on the suppression list
    /// Another shard's row (validate_options::shard_count): not this
    /// process's to decide, not counted, not written anywhere.
    other_shard,
};

[[nodiscard]] std::string_view to_string(validity f) noexcept;

/// Checks an address: not blank, exactly one `@`, non-empty local part and
/// domain, at most 320 characters, no `,` `;` space or control character,
/// and a dot in the domain unless it is a bracketed literal (`[192.0.2.1]`).
/// Returns nullptr when the address is usable, else the reason ("no '@'").
[[nodiscard]] const char* check_address(std::string_view address) noexcept;

/// The form addresses are compared in: the local part as written, `@`, the
/// domain in ASCII lower case. Appends to `out` (cleared first).
void canonical_address(std::string_view address, std::string& out);

/// An exact set of addresses for dedupe, in 6.7 to 10 bytes of memory per
/// distinct address while its log is under 4 GiB (about 100 M addresses),
/// and 10.7 to 16 bytes above.
///
/// The addresses themselves go to an append-only log in an unlinked
/// temporary file; memory holds an open-addressing table of slots, each a
/// hash tag and an offset into the log, whose records start on 4-byte
/// boundaries: 5 bytes (a 10-bit tag, a 30-bit offset over 4) while the
/// log is under 4 GiB, then 8 (24 and 40 bits). A lookup
/// probes the slots whose tag matches and compares the logged address byte
/// for byte, so two distinct addresses are never taken for one another,
/// whatever their hashes. The table stays between 53% and 80% full (it
/// grows by 1.5×, rebuilt from the log); reserve() sizes it to be 75% full.
/// Not thread-safe: one validation stage owns it.
class address_set {
  public:
    /// `temp_dir` holds the log (default: $TMPDIR or /tmp). The slots are
    /// 5 bytes until the log nears `narrow_log_bytes` (at most, and by
    /// default, 4 GiB), then 8; tests lower it to cross that line.
    explicit address_set(std::string temp_dir = {}, std::uint64_t narrow_log_bytes = 0xFFFF'FFFFu);
    address_set(address_set&&) noexcept;
    address_set& operator=(address_set&&) noexcept;
    ~address_set();

    /// Adds `canonical`; returns true when it was not in the set, false when
    /// it was. An I/O failure of the log is a job-level error.
    [[nodiscard]] boost::system::result<bool, source_error> insert(std::string_view canonical);
    /// Adds `canonical`, seen in `row`; returns the row it was first seen in
    /// when it was already in the set, nothing when it was not.
    [[nodiscard]] boost::system::result<std::optional<std::uint64_t>, source_error> insert_row(
        std::string_view canonical, std::uint64_t row);
    /// The same, with `hash == hash_of(canonical)` computed beforehand.
    [[nodiscard]] boost::system::result<std::optional<std::uint64_t>, source_error> insert_row(
        std::string_view canonical, std::uint64_t row, std::uint64_t hash);
    /// insert() with the hash computed beforehand.
    [[nodiscard]] boost::system::result<bool, source_error> insert(std::string_view canonical,
                                                                   std::uint64_t hash);
    /// The hash the set places `canonical` by, and the one shards are cut
    /// by: XXH3-64 (xxHash 0.8, seed 0) of the bytes (the first 65 535 of
    /// a longer text). Its value is fixed across processes, builds and
    /// machines (XXH3's output is stable since xxHash 0.8.0), so every
    /// shard of a campaign computes the same partition.
    [[nodiscard]] static std::uint64_t hash_of(std::string_view canonical) noexcept;
    /// Starts loading the slot `hash` probes first, so that an insert a few
    /// addresses later finds it in cache (a 10 M-address table is far larger
    /// than the caches: each probe is otherwise a memory round trip).
    void prefetch(std::uint64_t hash) const noexcept;
    /// Sizes the table for `addresses` before the first insert, so that a
    /// job whose size is known up front does not rebuild it as it grows
    /// (each rebuild reads the log back and rehashes every address). Does
    /// nothing once the set holds an address.
    void reserve(std::size_t addresses);
    [[nodiscard]] std::size_t size() const noexcept;
    /// Bytes of memory the set holds (the slot table and the log's write buffer).
    [[nodiscard]] std::size_t memory_bytes() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// The addresses a job must not send to, in canonical form, each with the
/// reason it is there (empty for plain lists). Not thread-safe to modify;
/// const use from one validation stage.
class suppression_list {
  public:
    /// Loads a file (plain or .gz) holding one address per line, or a CSV
    /// with a header and an email column (named as in validate_options).
    /// Lines that are not usable addresses are ignored.
    [[nodiscard]] static boost::system::result<suppression_list, source_error> load(
        const std::string& path, const std::string& email_column = "email");
    /// Adds a file's addresses (as load()); the error names the file.
    [[nodiscard]] std::optional<source_error> load_file(const std::string& path,
                                                        const std::string& email_column = "email");
    /// Adds the suppression table of a `salvo listen` event database, as it
    /// is now, each address with its reason ("hard_bounce (events.sqlite)").
    /// The error names the database and what to do.
    [[nodiscard]] std::optional<source_error> load_db(const std::string& path);
    void add(std::string_view address, std::string_view reason = {});
    [[nodiscard]] bool contains(std::string_view address) const;
    /// Why `address` is suppressed: nullptr when it is not, "" for no reason given.
    [[nodiscard]] const std::string* reason(std::string_view address) const;
    [[nodiscard]] std::size_t size() const noexcept { return set_.size(); }

  private:
    std::unordered_map<std::string, std::string> set_;
    mutable std::string scratch_;
};

struct validate_options {
    /// The email column, matched case-insensitively against field names and
    /// keys; `DeliveryAddress` is recognised when this one is not there.
    std::string email_column = "email";
    /// The optional display-name column.
    std::string name_column = "name";
    /// Mark repeats of an earlier valid address `duplicate`.
    bool dedupe = true;
    /// Where the dedupe log lives (default: $TMPDIR or /tmp).
    std::string temp_dir;
    /// The size of the (uncompressed) recipient file when known, else 0:
    /// prepare() sizes the dedupe table from it and the first chunk's bytes
    /// per row, instead of rebuilding the table as it grows.
    std::uint64_t input_bytes = 0;
    /// Check only the rows of shard `shard_index` of `shard_count` (0: no
    /// sharding); the others get validity::other_shard, without touching
    /// dedupe. A row with a usable address belongs to shard
    /// `address_set::hash_of(canonical) % shard_count`, any other row to
    /// shard `row % shard_count`.
    std::uint32_t shard_index = 0;
    std::uint32_t shard_count = 0;
};

/// The shard of a row whose canonical address hashes to `hash`.
[[nodiscard]] inline std::uint32_t shard_of_hash(std::uint64_t hash, std::uint32_t count) noexcept {
    return static_cast<std::uint32_t>(hash % count);
}
/// The shard of a row without a usable address (row numbers from 1).
[[nodiscard]] inline std::uint32_t shard_of_row(std::uint64_t row, std::uint32_t count) noexcept {
    return static_cast<std::uint32_t>(row % count);
}

/// Gives each row its fate. Built once per job from the source's fields.
/// Not thread-safe (dedupe state): run it in one serial pipeline stage.
/// The suppression list, when given, must outlive the validator.
class validator {
  public:
    /// Errors: no email column among `fields` (a job-level error that
    /// lists the fields).
    [[nodiscard]] static boost::system::result<validator, source_error> create(
        const std::vector<field>& fields, const validate_options& options,
        const suppression_list* suppressed = nullptr, std::string source_name = {});

    /// The fate of row `i` of `c`; for anything but `valid`, `reason` gets
    /// a complete message naming the row, the line and the field.
    [[nodiscard]] boost::system::result<validity, source_error> check(const chunk& c, std::size_t i,
                                                                      std::string& reason);
    /// Optional, before checking the rows of `c` in order: works out every
    /// row's canonical address and dedupe hash at once, so that check() can
    /// prefetch the dedupe slots of the rows a few places ahead.
    void prepare(const chunk& c);

    [[nodiscard]] std::size_t email_column() const noexcept { return email_; }
    [[nodiscard]] std::optional<std::size_t> name_column() const noexcept { return name_; }
    /// The recipient a valid row is sent to: its address, its name (empty
    /// when there is no name column or the value is absent) and its values.
    /// The views point into `values`. Preview, validate and the pipeline
    /// build recipients the same way through it.
    [[nodiscard]] injection::recipient recipient_of(merge::row_view values,
                                                    std::uint64_t row) const noexcept;
    [[nodiscard]] const address_set* dedupe_set() const noexcept { return seen_.get(); }

  private:
    validator() = default;
    std::size_t email_ = 0;
    std::optional<std::size_t> name_;
    std::string email_label_;
    std::string source_name_;
    const suppression_list* suppressed_ = nullptr;
    std::unique_ptr<address_set> seen_;
    std::string scratch_;
    // prepare(): the chunk's canonical addresses, end offsets and hashes.
    std::string ahead_text_;
    std::vector<std::uint32_t> ahead_end_;
    std::vector<std::uint64_t> ahead_hash_;
    std::uint64_t ahead_first_row_ = 0;
    std::uint64_t input_bytes_ = 0;
    bool sized_ = false;
    std::uint32_t shard_index_ = 0;
    std::uint32_t shard_count_ = 0;  // 0 or 1: every row is this process's
};

}  // namespace salvo::engine
