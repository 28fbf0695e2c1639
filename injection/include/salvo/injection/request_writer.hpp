#pragma once
/// The request writer: appends Injection API JSON for one job straight into
/// a caller-owned body buffer, in either merge mode.
///
/// local:  each recipient is one fully rendered message; `To` is the
///         recipient, with FriendlyName when it has a name.
/// server: one message carries the lowered templates once and up to N rows
///         in MergeData.PerMessage (DeliveryAddress, RecipientName when
///         present, then only the fields the templates use); Global holds
///         the values for rows that do not carry their own.
///
/// The writer only appends; it does not count or cap (the batcher does).

#include <salvo/injection/codes.hpp>
#include <salvo/injection/error.hpp>
#include <salvo/injection/lowering.hpp>
#include <salvo/injection/message.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace salvo::injection {

enum class merge_mode : std::uint8_t {
    local,   ///< salvo renders every email
    server,  ///< SocketLabs renders from MergeData
};

/// Built once per job; immutable afterwards, so one instance (held by
/// shared_ptr) serves every pipeline thread. Every append is const and
/// allocates nothing once the body buffer has grown to its working size. On
/// a recipient error the body is restored to its size on entry.
class request_writer {
  public:
    /// Validates the credentials and the spec, and in server mode lowers the
    /// templates (errc::server_mode_refused with the reason when a template
    /// cannot be expressed). Takes ownership of the spec.
    [[nodiscard]] static boost::system::result<std::shared_ptr<const request_writer>, error_info>
    create(message_spec spec, credentials creds, merge_mode mode, const limits& lim = {});

    [[nodiscard]] merge_mode mode() const noexcept { return mode_; }
    [[nodiscard]] auth_form form() const noexcept { return form_; }
    /// The `Authorization` header value, empty for the legacy form.
    [[nodiscard]] const std::string& authorization() const noexcept { return authorization_; }

    /// `{"ServerId":…,["ApiKey":…,]"Messages":[`
    void begin_request(std::string& body) const { body += request_head_; }
    [[nodiscard]] std::size_t begin_request_bytes() const noexcept { return request_head_.size(); }
    /// `]}`
    void end_request(std::string& body) const { body += "]}"; }
    static constexpr std::size_t end_request_bytes = 2;

    /// local mode: appends one rendered message for `r` (with a leading
    /// comma unless `first`). Errors: the recipient's address or name holds
    /// a line break (errc::recipient_line_break); a template refused the
    /// row (merge::errc::header_injection, missing_value) — the message says
    /// which field and which part of the message; or the row renders a
    /// message the API refuses (errc::bad_row: a From address that is not
    /// an address, an empty Subject, no non-empty body, an empty custom
    /// header value). In server mode such
    /// a row would fail its whole merge message, so it is refused alone.
    [[nodiscard]] std::optional<error_info> append_message(std::string& body, const recipient& r,
                                                           bool first) const;

    /// server mode: a set of row fields a merge message leaves out of its
    /// rows, one bit each (bit i: the i-th field that can be left out). A
    /// field can be left out of a message when, in every row of it, it
    /// renders exactly what an earlier field of the same column renders (a
    /// computed field that HTML-escapes a value with nothing to escape, or a
    /// fallback that was not needed): the message's templates then name that
    /// earlier field instead. Cuts the bytes a row; the merge is the same.
    using field_mask = std::uint64_t;
    /// Every field some message may leave out (0: none; local mode: 0).
    [[nodiscard]] field_mask elidable_fields() const noexcept { return elidable_mask_; }
    /// server mode: what a row's values hold, a bit per column (the first
    /// 64), for the columns the fast path and the left-out fields read:
    /// worked out once a row by classify(), so that a value several fields
    /// read is scanned once, and a clean one is copied, not escaped.
    struct row_classes {
        std::uint64_t scanned = 0;     ///< columns classified (present, not empty)
        std::uint64_t json = 0;        ///< holds a byte JSON escapes
        std::uint64_t html = 0;        ///< holds & < > " or '
        std::uint64_t line_break = 0;  ///< holds CR or LF
        unsigned address = 0;          ///< merge::byte_classes of the recipient's address
        unsigned name = 0;             ///< and of its name
    };
    [[nodiscard]] row_classes classify(const recipient& r) const noexcept;

    /// Of `among`, the fields `r`'s row renders the same as their earlier
    /// field (`c`: classify(r)).
    [[nodiscard]] field_mask equal_fields(const recipient& r, field_mask among,
                                          const row_classes& c) const noexcept;
    [[nodiscard]] field_mask equal_fields(const recipient& r,
                                          field_mask among = ~field_mask{0}) const noexcept {
        return equal_fields(r, among, classify(r));
    }

    /// server mode: a set of row fields a merge message may send once, in
    /// its Global, instead of in each row: bit k is the k-th row field (the
    /// first 64, of those written on the fast path).
    using share_mask = std::uint64_t;
    /// server mode: a merge message's first row's values of some fields,
    /// and which of them the message's Global carries. A row whose value
    /// of such a field is the same leaves the field out and the server
    /// takes the Global; a row whose value differs (or is empty, or absent)
    /// carries its own, which overrides the Global. Cuts the bytes a row
    /// when a column holds one value for many rows (a company, a plan, a
    /// sender); the merge is the same.
    struct message_values {
        share_mask fields = 0;         ///< whose first-row value is kept
        share_mask in_global = 0;      ///< of `fields`, those the Global carries
        std::vector<std::string> raw;  ///< by row field: the first row's value
        std::string globals;           ///< `,{"Field":…,"Value":…}` for each in_global
        std::size_t tail_bytes = 0;    ///< what close_merge_message() writes
    };
    /// Every field a message may share (0 in local mode).
    [[nodiscard]] share_mask sharable_fields() const noexcept { return sharable_mask_; }
    /// Keeps `r`'s values of those of `among` it holds present and not empty
    /// (and a header field without a line break) and the message does not
    /// leave out (`left_out`), and puts those of `in_global` in the Global.
    void keep_values(const recipient& r, field_mask left_out, share_mask among,
                     share_mask in_global, message_values& m) const;
    /// Of m.fields, those whose value in `r` is the kept one; sets
    /// `differing` to those `r` holds another present, not empty, value of.
    /// One pass a row: the batcher counts the second, append_row() leaves
    /// the first out.
    [[nodiscard]] share_mask compare_values(const recipient& r, const message_values& m,
                                            share_mask& differing) const noexcept;

    /// server mode: opens a merge message (everything up to the first row)
    /// whose rows leave out `left_out` (its templates name the earlier
    /// fields instead).
    void open_merge_message(std::string& body, bool first, field_mask left_out = 0) const;
    /// server mode: appends `r` as one PerMessage row, without the fields of
    /// `left_out` (which must be within equal_fields(r)), nor those of the
    /// message's Global (`in_global`, message_values::in_global) whose value
    /// `r` holds (`same`, from compare_values()). Errors as append_message.
    [[nodiscard]] std::optional<error_info> append_row(std::string& body, const recipient& r,
                                                       bool first, field_mask left_out = 0,
                                                       share_mask in_global = 0,
                                                       share_mask same = 0) const {
        return append_row(body, r, classify(r), first, left_out, in_global, same);
    }
    /// The same, with `c` = classify(r).
    [[nodiscard]] std::optional<error_info> append_row(std::string& body, const recipient& r,
                                                       const row_classes& c, bool first,
                                                       field_mask left_out, share_mask in_global,
                                                       share_mask same) const;
    /// server mode: closes the message (PerMessage, Global), whose Global
    /// carries `values->in_global`.
    void close_merge_message(std::string& body, const message_values* values = nullptr) const;
    [[nodiscard]] std::size_t close_merge_message_bytes(
        const message_values* values = nullptr) const noexcept;

    /// server mode: the lowering (derived fields, Globals); empty in local mode.
    [[nodiscard]] const std::vector<lowered_field>& merge_fields() const noexcept {
        return merge_fields_;
    }
    /// server mode: the lowered Subject, as the server receives it (unescaped).
    [[nodiscard]] const std::string& lowered_subject() const noexcept { return lowered_subject_; }

    request_writer(const request_writer&) = delete;
    request_writer& operator=(const request_writer&) = delete;

  private:
    request_writer() = default;
    [[nodiscard]] std::optional<error_info> expand(const merge::compiled_template& t,
                                                   const recipient& r, std::string& body,
                                                   std::size_t mark) const;
    [[nodiscard]] std::optional<error_info> preflight(const recipient& r, std::string& body) const;
    void build_local_tail();
    [[nodiscard]] boost::system::result<void, error_info> build_server_parts();

    message_spec spec_;
    merge_mode mode_ = merge_mode::local;
    auth_form form_ = auth_form::body_api_key;
    std::string authorization_;
    std::string request_head_;
    std::string local_tail_;  // constant fields after the templates, with the closing `}`
    // server mode
    std::string message_head_;  // `{"To":…` up to `"PerMessage":[`
    std::string message_tail_;  // `]` [`,"Global":[…]`] `}}`
    std::vector<lowered_field> merge_fields_;
    std::vector<std::size_t> row_fields_;  // merge_fields_ with a column
    // Per row field: how a present, non-empty value is written without the
    // renderer (the common case), checked against the renderer at create().
    enum class fast_kind : std::uint8_t { none, json, html, url };
    struct fast_path {
        fast_kind kind = fast_kind::none;
        bool header = false;  // a line break in the value refuses the row
    };
    // Fields a message may leave out (see field_mask): for bit i, the row
    // field (index into row_fields_) left out, the earlier one it equals
    // (or DeliveryAddress), and whether equality also needs the value free
    // of HTML specials (one is written HTML-escaped, the other not).
    struct elidable {
        std::size_t field = 0;
        std::size_t partner = 0;
        std::size_t column = 0;  // theirs
        bool address = false;    // the twin is DeliveryAddress, not `partner`
        bool needs_plain = false;
        bool header = false;        // a line break refuses the row: never left out
        bool absent_equal = false;  // an absent value: both take equal Globals
        bool empty_equal = false;   // an empty value: both render the same
    };
    std::vector<elidable> elidable_;
    field_mask elidable_mask_ = 0;
    // What append_row reads for each row field (parallel to row_fields_),
    // side by side: its column, its opener `,{"Field":"name","Value":"` (in
    // opener_pool_, which has slack after the last so that openers are
    // copied in whole blocks), its bit (or -1: never left out), its fast
    // path, whether an absent value is a Global. What an empty value
    // renders, and an absent one (when the field has no Global), are the
    // same for every row: known at create() (in rendered_pool_) unless a
    // renderer refuses them.
    struct row_step {
        std::size_t column = 0;
        std::uint32_t opener_offset = 0;
        std::uint32_t opener_size = 0;
        std::uint32_t empty_offset = 0, empty_size = 0;
        std::uint32_t absent_offset = 0, absent_size = 0;
        int bit = -1;
        fast_kind kind = fast_kind::none;
        bool header = false;
        bool global = false;
        bool empty_known = false;
        bool absent_known = false;
        // An empty value renders the field's Global: the row leaves it out.
        bool empty_is_global = false;
        // The Global's value (JSON-escaped), in rendered_pool_: what a row
        // writes for itself when the message's Global holds a shared value.
        std::uint32_t global_offset = 0, global_size = 0;
    };
    std::vector<row_step> row_steps_;
    std::string opener_pool_;
    std::string rendered_pool_;
    static constexpr std::uint32_t opener_block = 16;
    // The placeholders of those fields in message_head_, in order, and the
    // placeholder that replaces each (`%%earlier%%`) when left out.
    struct head_placeholder {
        std::size_t pos = 0;
        std::size_t size = 0;
        int bit = 0;
    };
    std::vector<head_placeholder> head_placeholders_;
    std::vector<std::string> replacement_;  // per bit
    void find_elidable_fields();
    static fast_path fast_path_for(const lowered_field& f);
    // Appends f's opener and renderings to the pools.
    [[nodiscard]] row_step row_step_for(const lowered_field& f);
    // What row `r` sends for field `s`: nothing (the message's Global
    // stands for an absent value, or for an empty one that renders it),
    // the rendering of an absent or an empty value, or its own value `v`.
    enum class row_value : std::uint8_t { global, absent, empty, present };
    [[nodiscard]] static row_value value_of(const row_step& s, const recipient& r,
                                            std::string_view& v) noexcept;
    // append_row for a row whose every sent field takes its fast path:
    // false (nothing written) when one does not.
    [[nodiscard]] bool append_fast_row(std::string& body, const recipient& r, const row_classes& c,
                                       bool first, field_mask left_out, share_mask in_global,
                                       share_mask same) const;
    // The columns classify() scans.
    std::uint64_t classified_columns_ = 0;
    // Bit k of a share_mask (row fields past the 64th are never shared).
    [[nodiscard]] static bool has(share_mask m, std::size_t k) noexcept {
        return k < 64 && ((m >> k) & 1) != 0;
    }
    share_mask sharable_mask_ = 0;
    // The Global's entries after RecipientName, one per field with a Global,
    // and the row field each belongs to (or -1): a message sharing that
    // field's value writes the shared value instead.
    struct global_entry {
        int row_field = -1;
        std::string text;  // `,{"Field":…,"Value":…}`
    };
    std::vector<global_entry> global_entries_;
    // Whether a message sharing `in_global` writes g's field's shared value
    // instead of g (only the first 64 row fields can be shared).
    [[nodiscard]] static bool shared_global(const global_entry& g, share_mask in_global) noexcept {
        return g.row_field >= 0 && has(in_global, static_cast<std::size_t>(g.row_field));
    }
    static void append_fast(std::string& body, fast_kind kind, std::string_view v);
    std::string lowered_subject_;
    // Rows that would make the server refuse a whole merge message (or a
    // local one) are refused here, per recipient: a From address that does
    // not render to an address, a Subject or every body rendering empty.
    bool check_from_ = false;
    bool check_subject_ = false;
    bool check_bodies_ = false;
    std::vector<std::size_t> check_headers_;  // custom headers that may render empty
};

}  // namespace salvo::injection
