#pragma once
/// Recipient sources: streaming readers of CSV, JSON and NDJSON files (plain
/// or gzipped, UTF-8 or a single-byte encoding) and a callback source through
/// which a host program hands over rows. Every source yields chunks of rows
/// (see chunk.hpp) with bounded memory: a few chunk buffers, whatever the
/// input's size.

#include <salvo/engine/chunk.hpp>
#include <salvo/engine/error.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::engine {

enum class input_format : std::uint8_t {
    automatic,  ///< from the extension (.csv .tsv .json .ndjson .jsonl, then .gz), else sniffed
    csv,
    json,    ///< one top-level array of flat objects
    ndjson,  ///< one flat object per line
};

/// Parses "csv", "tsv" (csv), "json", "ndjson", "jsonl" or "auto"; false when unknown.
[[nodiscard]] bool parse_format(std::string_view name, input_format& out) noexcept;

struct source_options {
    input_format format = input_format::automatic;
    /// "utf-8" (default), "windows-1252" (alias "cp1252") or "latin-1"
    /// (alias "iso-8859-1"). Single-byte inputs are transcoded to UTF-8.
    std::string encoding = "utf-8";
    /// CSV field delimiter: ',' ';' or '\t'. 0 picks '\t' for .tsv and
    /// otherwise the one of the three that the header line holds most of.
    char delimiter = 0;
    /// JSON/NDJSON: the field names. Empty: the keys of the first row.
    std::vector<std::string> fields;
    /// Target size of a chunk's input buffer.
    std::size_t chunk_bytes = std::size_t{1} << 20;
    /// A record longer than this is invalid and skipped; it bounds memory.
    std::size_t max_record_bytes = std::size_t{1} << 20;
    /// The name used in messages; empty means the path ("stdin" for "-").
    std::string display_name;
};

/// One input field. `name` is the header (CSV) or key (JSON) as written,
/// trimmed; `key` is the name a template uses: the same, except that each run
/// of characters a template NAME cannot hold becomes `_` (`First Name` →
/// `First_Name`).
struct field {
    std::string name;
    std::string key;
};

/// A stream of recipient rows.
///
/// Thread safety: none; one thread pulls chunks (a pipeline's serial input
/// stage), and the chunks it gets may then travel to other threads.
/// Errors: next_chunk() returns a source_error only for job-level failures
/// (an I/O error, corrupt gzip); a malformed record is a row marked invalid.
class recipient_source {
  public:
    virtual ~recipient_source() = default;

    /// The fields, known before the first chunk; one value per field per row.
    [[nodiscard]] const std::vector<field>& fields() const noexcept { return fields_; }
    /// The template names of the fields (field::key), in order: the columns
    /// of a merge::field_set.
    [[nodiscard]] std::vector<std::string> keys() const;
    /// The name used in messages (the path, or "stdin").
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    /// Fills `out` (emptied first; its memory is reused) with the next rows.
    /// Returns false, with `out` empty, at the end of the input.
    [[nodiscard]] virtual boost::system::result<bool, source_error> next_chunk(chunk& out) = 0;

  protected:
    std::vector<field> fields_;
    std::string name_;
};

/// Opens a file source: `path` names a file, or "-" for standard input. The
/// header (CSV) or the first row (JSON, NDJSON) is read here, so the fields
/// are known on return. Job-level errors: no such file, permission denied,
/// not the format at all, an unknown option, or a UTF-8 input whose first
/// rows are mostly not UTF-8 (the message suggests the `encoding` option).
[[nodiscard]] boost::system::result<std::unique_ptr<recipient_source>, source_error> open_source(
    const std::string& path, const source_options& options = {});

/// The same over an open file descriptor (a pipe, a socket); `name` is used
/// in messages and for the format when it has an extension. Closes `fd` at
/// the end when `owned`.
[[nodiscard]] boost::system::result<std::unique_ptr<recipient_source>, source_error> open_fd(
    int fd, bool owned, const std::string& name, const source_options& options = {});

/// Where a host program writes rows for a callback source. Values are copied
/// into the chunk; a value whose data() is nullptr is absent.
class chunk_writer {
  public:
    explicit chunk_writer(chunk& out, std::uint64_t& next_row) noexcept
        : out_(out), next_row_(next_row) {}
    /// Appends a row; missing trailing values are absent, extra ones ignored.
    void add_row(std::span<const std::string_view> values);
    void add_row(std::initializer_list<std::string_view> values) {
        add_row(std::span<const std::string_view>(values.begin(), values.size()));
    }
    /// Appends a row the host already knows is malformed, with its reason.
    void add_invalid_row(std::string_view reason, std::span<const std::string_view> values = {});
    /// Rows written into this chunk so far.
    [[nodiscard]] std::size_t rows() const noexcept { return out_.size(); }

  private:
    chunk& out_;
    std::uint64_t& next_row_;
};

/// The host's pull interface: called once per chunk; writes rows (a few
/// thousand is a good size) and returns false when there are no more (rows
/// written in that last call still count).
using next_chunk_fn = std::function<bool(chunk_writer&)>;

/// A source over rows a host program supplies. `field_names` are the fields,
/// up front. Row numbers count the rows written, from 1; line equals row.
[[nodiscard]] std::unique_ptr<recipient_source> make_callback_source(
    std::vector<std::string> field_names, next_chunk_fn next_chunk, std::string name = "callback");

/// The template key for a header name (see field::key).
[[nodiscard]] std::string template_key(std::string_view name);

}  // namespace salvo::engine
