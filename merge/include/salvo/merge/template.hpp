#pragma once
/// salvo's template language: SocketLabs' `%%Field%%` merge syntax with
/// fallbacks and modifiers, compiled once per job and expanded once per row.
///
/// Grammar (normative; docs/templates.md documents it with examples):
///   placeholder := "%%" NAME [":" MODIFIER] ["|" FALLBACK] "%%"   (one line)
///   NAME        := letter { letter | digit | "_" | "-" }   (case-insensitive)
///   MODIFIER    := "raw" | "url"
///   FALLBACK    := any text without "%", CR or LF
/// `%%` starts a placeholder only when a NAME follows directly, and the
/// character after the NAME is `%%`, `:` or `|`. Once `:` or `|` follows the
/// NAME the placeholder must be well-formed, or compilation fails with line
/// and column. Every other `%%` is literal text (`50%% off`, `%%%%`,
/// `%%First Name%%`), copied as written.

#include <salvo/merge/error.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::merge {

/// Where a template's output lands. It decides the escaping and whether the
/// header-injection guard applies. Every context writes JSON-escaped text,
/// because the output goes straight into a request body.
enum class context : std::uint8_t {
    text,    ///< a text body: no HTML escaping.
    html,    ///< an HTML or AMP body: values and fallbacks HTML-escaped unless
             ///< `:raw`, `:url`, or compile_options::html_escape is off.
    header,  ///< subject, header value, display name, address, MailingId,
             ///< MessageId: no HTML escaping; a value holding CR or LF makes
             ///< the row invalid (errc::header_injection).
};

enum class modifier : std::uint8_t {
    none,
    raw,  ///< no HTML escaping (only matters in context::html).
    url,  ///< RFC 3986 percent-encoding of the UTF-8 bytes; never HTML-escaped.
};

/// A job-wide value that every row sees unless the row has its own.
struct global_field {
    std::string name;
    std::string value;
};

/// The names a template may use: the source's columns, in row order, and
/// the job's Global values. Names match case-insensitively (ASCII); when two
/// columns fold to the same name, the first one wins.
struct field_set {
    std::vector<std::string> columns;
    std::vector<global_field> globals;

    /// Index of the column named `name`, case-insensitively.
    [[nodiscard]] std::optional<std::size_t> find_column(std::string_view name) const noexcept;
    /// The Global named `name`, case-insensitively, or nullptr.
    [[nodiscard]] const global_field* find_global(std::string_view name) const noexcept;
};

struct compile_options {
    context where = context::text;
    /// The job's `html_escape` switch; only context::html looks at it.
    bool html_escape = true;
    /// The job's `missing_field: "invalid"`: a placeholder without fallback
    /// whose value is empty or absent makes the row invalid.
    bool empty_is_invalid = false;
    /// What this template is ("subject", "html body", "header X-Campaign"),
    /// used in every message about it.
    std::string label;
};

/// Why a template did not compile, and where (1-based line and byte column).
struct compile_error {
    errc code{};
    std::size_t line = 0;
    std::size_t column = 0;
    std::string message;  ///< complete, e.g. "subject:1:7: unknown modifier 'upper'…"
};

/// A literal stretch that looks like a mistyped placeholder (`%%First Name%%`):
/// it is printed as written, which is rarely what the author meant.
struct compile_warning {
    std::size_t line = 0;
    std::size_t column = 0;
    std::string text;     ///< the stretch, `%%` to `%%`
    std::string message;  ///< complete, with label, line and column
};

/// One placeholder as written in the template, and what it resolved to.
struct placeholder {
    std::string name;  ///< as written in the template
    modifier mod = modifier::none;
    bool has_fallback = false;
    std::string fallback;  ///< as written, unescaped
    /// The column that provides the value, if any.
    std::optional<std::size_t> column;
    /// The Global that provides the value when the row has none, if any.
    std::optional<std::string> global;
    std::size_t line = 0;
    std::size_t col = 0;
};

/// A template as parsed: literal text and placeholders in order. Server-mode
/// lowering walks this to rewrite a template into plain `%%Field%%` form.
struct segment {
    bool is_literal = true;
    std::string literal;  ///< literal text as written (unescaped); empty for a placeholder
    placeholder field;    ///< meaningful when !is_literal
};

/// A row: one value per column, in the order of field_set::columns. A value
/// whose data() is nullptr is *absent* (a JSON row that omits the key): the
/// Global of that name applies. Any other value, the empty one included,
/// wins over the Global. Missing trailing columns are absent too.
using row_view = std::span<const std::string_view>;

[[nodiscard]] constexpr bool is_absent(std::string_view v) noexcept {
    return v.data() == nullptr;
}

/// Why one row could not be expanded: the code and the placeholder at fault.
struct expand_error {
    boost::system::error_code code;
    const placeholder* field = nullptr;  ///< points into the compiled template
};

/// A compiled template: immutable once built, so one instance is shared
/// read-only by every pipeline thread. Literals are stored already
/// JSON-escaped and field names are resolved to column numbers, so
/// expanding a row is a sequence of appends.
class compiled_template {
  public:
    compiled_template() = default;

    /// Appends the expansion of `row` to `out`, JSON-escaped, and returns
    /// nothing on success. On failure (a CR/LF value in context::header, or
    /// an empty value under empty_is_invalid) `out` is restored to its size
    /// on entry and the error names the placeholder. Allocates nothing once
    /// `out` has grown to its working size. Thread-safe (const).
    [[nodiscard]] std::optional<expand_error> expand(row_view row, std::string& out) const;

    /// A human message for an expand_error of this template, naming the
    /// field and the label ("field 'first_name' holds a line break, which
    /// would break the subject").
    [[nodiscard]] std::string describe(const expand_error& e) const;

    /// The template as parsed, for server-mode lowering and tools.
    [[nodiscard]] const std::vector<segment>& segments() const noexcept { return segments_; }
    /// Warnings found while compiling (see compile_warning).
    [[nodiscard]] const std::vector<compile_warning>& warnings() const noexcept {
        return warnings_;
    }
    /// The options it was compiled with.
    [[nodiscard]] const compile_options& options() const noexcept { return options_; }
    [[nodiscard]] const std::string& label() const noexcept { return options_.label; }
    /// Columns this template reads, ascending, without repeats.
    [[nodiscard]] const std::vector<std::size_t>& used_columns() const noexcept {
        return used_columns_;
    }
    /// True when the template has no placeholder that reads a row.
    [[nodiscard]] bool is_constant() const noexcept { return used_columns_.empty(); }
    /// Bytes of JSON-escaped literal text: a lower bound of every expansion.
    [[nodiscard]] std::size_t literal_bytes() const noexcept { return literal_bytes_; }

  private:
    friend boost::system::result<compiled_template, compile_error> compile(std::string_view,
                                                                           const field_set&,
                                                                           const compile_options&);

    // One step of expansion. Literal bytes live in pool_ (JSON-escaped).
    // A literal op is only its text; a field op first copies the literal
    // that precedes it (fused at compile time: half the loop iterations).
    struct op {
        std::uint32_t offset = 0;  // the literal (prefix) text: into pool_
        std::uint32_t size = 0;
        std::uint32_t column = 0;   // field: the row column, or no_column
        std::uint32_t segment = 0;  // field: index into segments_
        // field: precomputed output of the Global value and of the fallback
        std::uint32_t global_offset = 0, global_size = 0;
        std::uint32_t fallback_offset = 0, fallback_size = 0;
        bool is_literal = true;
        bool has_global = false;
        bool global_empty = true;
        bool has_fallback = false;
        modifier mod = modifier::none;
        bool html = false;  // HTML-escape values
        enum class writer : std::uint8_t { json, html, url } write = writer::json;
    };
    static constexpr std::uint32_t no_column = UINT32_MAX;

    std::vector<op> ops_;
    std::string pool_;
    std::vector<segment> segments_;
    std::vector<compile_warning> warnings_;
    std::vector<std::size_t> used_columns_;
    std::vector<std::uint32_t> field_columns_;  // the column of each field op that has one
    compile_options options_;
    std::size_t literal_bytes_ = 0;
    std::size_t const_field_bytes_ = 0;  // the larger of Global and fallback output, summed

    // The most bytes expanding `row` can append (escaping grows a byte to 6).
    [[nodiscard]] std::size_t max_expanded_size(row_view row) const noexcept;
    char* write(row_view row, char* p, expand_error& failed) const;
};

/// Parses and compiles `text` against `fields`. Returns the compiled
/// template, or the first error with its line and column: a malformed
/// placeholder, an unknown modifier, or a field that no column and no
/// Global provides in a placeholder without fallback (the message lists the
/// known fields). Never throws for bad input.
[[nodiscard]] boost::system::result<compiled_template, compile_error> compile(
    std::string_view text, const field_set& fields, const compile_options& options);

/// Lets boost::system::result<…, compile_error>::value() throw: the
/// exception is a std::runtime_error carrying the message.
[[noreturn]] void throw_exception_from_error(const compile_error& e,
                                             const boost::source_location& loc);

}  // namespace salvo::merge
