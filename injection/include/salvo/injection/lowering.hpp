#pragma once
/// Server-mode lowering: rewrites salvo templates into the plain `%%Field%%`
/// syntax the Injection API's server-side merge knows (INJECTION_API.md §3),
/// and describes the per-row and Global values that make the server deliver
/// exactly what local mode would render.
///
/// How: every distinct (field, modifier, context, fallback) whose output is
/// not the bare value becomes a *derived* field named `<prefix><n>`, whose
/// value salvo renders per row with the same merge code as local mode (HTML
/// escaping, percent-encoding, fallback). A plain `%%Field%%` whose output is
/// the bare value keeps its name. A field whose row value is absent takes
/// the message's Global value, computed once. Literal text in which the
/// server would find a placeholder that local mode prints as is gets every
/// `%` replaced by `%%<prefix>pct%%`, a Global whose value is `%`.

#include <salvo/injection/error.hpp>
#include <salvo/merge/template.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::injection {

/// One field of MergeData: carried by rows, by Global, or both.
struct lowered_field {
    std::string name;  ///< on the wire, as the lowered templates spell it
    bool derived = false;
    /// The column the value depends on; nullopt: the same value for every
    /// row, sent only in Global.
    std::optional<std::size_t> column;
    /// renderers[0] writes the value (JSON-escaped) for a row; the others
    /// only check it, for each other context the same bare field is used in
    /// (a line break is fine in a body but not in a header).
    std::vector<merge::compiled_template> renderers;
    /// The value, JSON-escaped, for a row whose column is absent: sent once
    /// per message in Global. nullopt when it does not render (an empty
    /// Global under `missing_field: invalid`): such rows are invalid.
    std::optional<std::string> global;
};

/// A placeholder as the server's merge finds it: `%%NAME%%` with NAME a
/// letter then letters, digits, `_` or `-`; a `%%` that starts no such
/// placeholder is literal and the scan moves on by one `%`.
struct server_placeholder {
    std::size_t pos = 0;    ///< offset of the first `%`
    std::size_t size = 0;   ///< bytes from the first to the last `%`
    std::string_view name;  ///< points into the scanned text
};

/// Every placeholder the server would find in `text` (unescaped), in order.
[[nodiscard]] std::vector<server_placeholder> server_scan(std::string_view text);

/// One piece of a lowered template: literal text, or a placeholder name.
struct lowered_piece {
    bool is_placeholder = false;
    std::string_view text;  ///< the literal, or the field name; owned by the caller
};

/// Joins `pieces` into the text the server receives, and checks it the way
/// the server reads it: exactly the placeholders of `pieces`, at their
/// offsets. When the literals would be misread (salvo prints `%%%Name%%`
/// with a literal `%%Name%%` in it only under another grammar; the check
/// keeps the two grammars honest), every `%` of the literals becomes
/// `%%<percent_field>%%` and `escaped` is set. nullopt when even that fails.
[[nodiscard]] std::optional<std::string> assemble_for_server(
    const std::vector<lowered_piece>& pieces, std::string_view percent_field, bool& escaped);

/// Lowers one job's templates. Build one per job, call lower() for each
/// template, then finish(); the result is read-only. Not thread-safe while
/// building. Errors name the template (its label) and the reason.
class server_lowering {
  public:
    /// Picks the derived-name prefix: "s", else "salvo_", else "salvo<k>_"
    /// for the smallest k such that no column or Global name is the prefix
    /// followed by digits or "pct" (case-insensitively), so derived names
    /// never collide with user fields nor with DeliveryAddress and
    /// RecipientName. A plain placeholder of `address_column` is written as
    /// `%%DeliveryAddress%%`: every row already carries that value.
    explicit server_lowering(const merge::field_set& fields,
                             std::optional<std::size_t> address_column = std::nullopt);

    /// Returns `t` rewritten in plain `%%Field%%` form, unescaped.
    [[nodiscard]] boost::system::result<std::string, error_info> lower(
        const merge::compiled_template& t);

    /// Computes the Global values; call once, after the last lower().
    void finish();

    [[nodiscard]] const std::vector<lowered_field>& fields() const noexcept { return fields_; }
    [[nodiscard]] const std::string& prefix() const noexcept { return prefix_; }
    /// Name of the Global holding `%`, or empty when no literal needed it.
    [[nodiscard]] const std::string& percent_field() const noexcept { return percent_field_; }

  private:
    std::size_t identity_field(const merge::compiled_template& t, const merge::placeholder& p,
                               std::string& error);
    std::size_t derived_field(const merge::compiled_template& t, const merge::placeholder& p,
                              std::string& error);

    const merge::field_set* fields_in_;
    std::optional<std::size_t> address_column_;
    std::string prefix_;
    std::string percent_field_;
    std::vector<lowered_field> fields_;
    std::vector<std::string> keys_;  // parallel to fields_: the dedupe key
};

}  // namespace salvo::injection
