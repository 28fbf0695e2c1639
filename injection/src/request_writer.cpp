#include <salvo/injection/request_writer.hpp>

#include <salvo/merge/escape.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <string>
#include <utility>

namespace salvo::injection {
namespace {

using merge::append_json_escaped;
using namespace std::string_view_literals;

// Writes the message's fields after "To", in one order for both modes.
// `emit` writes a template's output (rendered, or lowered) and may fail.
template <typename Emit>
std::optional<error_info> write_templated(const message_spec& s, std::string& b, Emit&& emit) {
    std::optional<error_info> e;
    const auto field = [&](std::string_view key, const merge::compiled_template& t) {
        if (e) return;
        b += key;
        e = emit(t);
        if (!e) b += '"';
    };
    const auto address = [&](std::string_view key, const address_template& a) {
        field(key, a.email);
        if (a.name) field(",\"FriendlyName\":\"", *a.name);
        if (!e) b += '}';
    };
    address(",\"From\":{\"EmailAddress\":\"", s.from);
    if (s.reply_to) address(",\"ReplyTo\":{\"EmailAddress\":\"", *s.reply_to);
    field(",\"Subject\":\"", s.subject);
    if (s.text_body) field(",\"TextBody\":\"", *s.text_body);
    if (s.html_body) field(",\"HtmlBody\":\"", *s.html_body);
    if (s.amp_body) field(",\"AmpBody\":\"", *s.amp_body);
    if (s.mailing_id) field(",\"MailingId\":\"", *s.mailing_id);
    if (s.message_id) field(",\"MessageId\":\"", *s.message_id);
    if (!s.custom_headers.empty() && !e) {
        b += ",\"CustomHeaders\":[";
        for (std::size_t i = 0; i < s.custom_headers.size() && !e; ++i) {
            b += i == 0 ? "{\"Name\":\"" : ",{\"Name\":\"";
            append_json_escaped(b, s.custom_headers[i].name);
            field("\",\"Value\":\"", s.custom_headers[i].value);
            if (!e) b += '}';
        }
        if (!e) b += ']';
    }
    return e;
}

void write_constant_fields(const message_spec& s, std::string& b) {
    if (!s.charset.empty()) {
        b += ",\"CharSet\":\"";
        append_json_escaped(b, s.charset);
        b += '"';
    }
    if (!s.attachments.empty()) {
        b += ",\"Attachments\":[";
        for (std::size_t i = 0; i < s.attachments.size(); ++i) {
            const auto& a = s.attachments[i];
            b += i == 0 ? "{\"Name\":\"" : ",{\"Name\":\"";
            append_json_escaped(b, a.name);
            b += "\",\"Content\":\"";
            b += a.content_base64;
            b += '"';
            if (!a.content_type.empty()) {
                b += ",\"ContentType\":\"";
                append_json_escaped(b, a.content_type);
                b += '"';
            }
            if (!a.content_id.empty()) {
                b += ",\"ContentId\":\"";
                append_json_escaped(b, a.content_id);
                b += '"';
            }
            b += '}';
        }
        b += ']';
    }
    if (!s.metadata.empty()) {
        b += ",\"Metadata\":[";
        for (std::size_t i = 0; i < s.metadata.size(); ++i) {
            b += i == 0 ? "{\"Key\":\"" : ",{\"Key\":\"";
            append_json_escaped(b, s.metadata[i].key);
            b += "\",\"Value\":\"";
            append_json_escaped(b, s.metadata[i].value);
            b += "\"}";
        }
        b += ']';
    }
    if (!s.tags.empty()) {
        b += ",\"Tags\":[";
        for (std::size_t i = 0; i < s.tags.size(); ++i) {
            b += i == 0 ? "\"" : ",\"";
            append_json_escaped(b, s.tags[i]);
            b += '"';
        }
        b += ']';
    }
}

std::optional<error_info> check_line_breaks(const recipient& r) {
    if (merge::has_line_break(r.address))
        return error_info{make_error_code(errc::recipient_line_break),
                          "the recipient's address holds a line break"};
    if (merge::has_line_break(r.name))
        return error_info{make_error_code(errc::recipient_line_break),
                          "the recipient's name holds a line break"};
    return std::nullopt;
}

// The same from the row's classes (request_writer::classify()).
std::optional<error_info> check_line_breaks(const request_writer::row_classes& c) {
    if ((c.address & merge::class_line_break) != 0)
        return error_info{make_error_code(errc::recipient_line_break),
                          "the recipient's address holds a line break"};
    if ((c.name & merge::class_line_break) != 0)
        return error_info{make_error_code(errc::recipient_line_break),
                          "the recipient's name holds a line break"};
    return std::nullopt;
}

// The API's address rules (INJECTION_API.md §7) on JSON-escaped text: a
// backslash (an escaped quote or control character) is refused too.
bool is_address(std::string_view a) {
    if (a.empty() || a.size() > 320) return false;
    const auto at = a.find('@');
    if (at == 0 || at == std::string_view::npos || at + 1 == a.size()) return false;
    if (a.find('@', at + 1) != std::string_view::npos) return false;
    return a.find_first_of(",; \\") == std::string_view::npos;
}

}  // namespace

std::optional<error_info> request_writer::preflight(const recipient& r, std::string& body) const {
    const auto mark = body.size();
    const auto bad = [&](std::string m) {
        body.resize(mark);
        return error_info{make_error_code(errc::bad_row), std::move(m)};
    };
    if (check_from_) {
        if (auto e = expand(spec_.from.email, r, body, mark)) return e;
        if (!is_address(std::string_view(body).substr(mark)))
            return bad(
                "the From address does not render to an address (one '@', no space, "
                "',', ';', quote or control character)");
        body.resize(mark);
    }
    if (check_subject_) {
        if (auto e = expand(spec_.subject, r, body, mark)) return e;
        if (body.size() == mark) return bad("the Subject renders empty");
        body.resize(mark);
    }
    if (check_bodies_) {
        for (const auto* t : {&spec_.text_body, &spec_.html_body}) {
            if (!*t) continue;
            if (auto e = expand(**t, r, body, mark)) return e;
        }
        if (body.size() == mark) return bad("the text and HTML bodies both render empty");
        body.resize(mark);
    }
    for (const auto i : check_headers_) {
        const auto& h = spec_.custom_headers[i];
        if (auto e = expand(h.value, r, body, mark)) return e;
        if (body.size() == mark)
            return bad("custom header '" + h.name +
                       "' renders empty, and the API refuses an empty header value");
        body.resize(mark);
    }
    body.resize(mark);
    return std::nullopt;
}

request_writer::fast_path request_writer::fast_path_for(const lowered_field& f) {
    fast_path fp;
    if (f.renderers.empty()) return fp;
    const auto& first = f.renderers.front();
    const auto& segs = first.segments();
    if (segs.size() != 1 || segs[0].is_literal) return fp;
    const auto& p = segs[0].field;
    const auto& o = first.options();
    fp.kind = p.mod == merge::modifier::url ? fast_kind::url
              : (o.where == merge::context::html && o.html_escape && p.mod == merge::modifier::none)
                  ? fast_kind::html
                  : fast_kind::json;
    for (const auto& r : f.renderers)
        fp.header = fp.header || r.options().where == merge::context::header;
    // Trust the shortcut only where it writes what the renderer writes.
    const std::string_view samples[] = {"a", "<a href=\"x\">&'</a>", "ü 50% +/?=", "tab\there"};
    std::string want, got;
    std::vector<std::string_view> row(*f.column + 1);
    for (const auto v : samples) {
        row[*f.column] = v;
        want.clear();
        got.clear();
        if (first.expand(row, want)) return fast_path{};
        append_fast(got, fp.kind, v);
        if (want != got) return fast_path{};
    }
    return fp;
}

void request_writer::append_fast(std::string& body, fast_kind kind, std::string_view v) {
    switch (kind) {
        case fast_kind::json:
            merge::append_json_escaped(body, v);
            break;
        case fast_kind::html:
            merge::append_html_json_escaped(body, v);
            break;
        case fast_kind::url:
            merge::append_url_encoded(body, v);
            break;
        case fast_kind::none:
            break;
    }
}

boost::system::result<std::shared_ptr<const request_writer>, error_info> request_writer::create(
    message_spec spec, credentials creds, merge_mode mode, const limits& lim) {
    if (auto v = validate(creds); !v) return v.error();
    if (auto v = validate(spec, lim); !v) return v.error();
    std::shared_ptr<request_writer> w(new request_writer());
    w->spec_ = std::move(spec);
    w->mode_ = mode;
    w->form_ = creds.form();
    w->authorization_ = creds.authorization();
    w->request_head_ = "{\"ServerId\":" + std::to_string(creds.server_id);
    if (w->form_ == auth_form::body_api_key) {
        w->request_head_ += ",\"ApiKey\":\"";
        append_json_escaped(w->request_head_, creds.api_key);
        w->request_head_ += '"';
    }
    w->request_head_ += ",\"Messages\":[";
    const auto& sp = w->spec_;
    if (sp.from.email.is_constant()) {
        std::string from;
        if (sp.from.email.expand({}, from) || !is_address(from))
            return error_info{make_error_code(errc::bad_message),
                              "the From address is not an address"};
    } else {
        w->check_from_ = true;
    }
    for (std::size_t i = 0; i < sp.custom_headers.size(); ++i) {
        const auto& h = sp.custom_headers[i];
        if (h.value.literal_bytes() != 0) continue;
        std::string value;
        if (!h.value.is_constant()) {
            w->check_headers_.push_back(i);
        } else if (h.value.expand({}, value) || value.empty()) {
            return error_info{make_error_code(errc::bad_message),
                              "custom header '" + h.name + "' has an empty value"};
        }
    }
    w->check_subject_ = sp.subject.literal_bytes() == 0;
    w->check_bodies_ = (!sp.text_body || sp.text_body->literal_bytes() == 0) &&
                       (!sp.html_body || sp.html_body->literal_bytes() == 0);
    if (mode == merge_mode::local) {
        w->build_local_tail();
    } else if (auto b = w->build_server_parts(); !b) {
        return b.error();
    }
    return std::shared_ptr<const request_writer>(std::move(w));
}

void request_writer::build_local_tail() {
    local_tail_.clear();
    write_constant_fields(spec_, local_tail_);
    local_tail_ += '}';
}

boost::system::result<void, error_info> request_writer::build_server_parts() {
    server_lowering lowering(spec_.fields, spec_.address_column);
    // Lower every template first (the field list grows), then write the head.
    std::vector<std::pair<const merge::compiled_template*, std::string>> lowered;
    std::string probe;
    auto failed = write_templated(spec_, probe, [&](const merge::compiled_template& t) {
        auto l = lowering.lower(t);
        if (!l) return std::optional<error_info>(l.error());
        if (&t == &spec_.subject) lowered_subject_ = *l;
        lowered.emplace_back(&t, std::move(*l));
        return std::optional<error_info>();
    });
    if (failed) return *failed;
    lowering.finish();
    merge_fields_ = lowering.fields();

    message_head_ =
        "{\"To\":[{\"EmailAddress\":\"%%DeliveryAddress%%\",\"FriendlyName\":\"%%RecipientName%%\"}"
        "]";
    std::size_t next = 0;
    (void)write_templated(spec_, message_head_, [&](const merge::compiled_template&) {
        append_json_escaped(message_head_, lowered[next++].second);
        return std::optional<error_info>();
    });
    write_constant_fields(spec_, message_head_);
    message_head_ += ",\"MergeData\":{\"PerMessage\":[";

    // RecipientName is a Global too, empty: a row without a name leaves the
    // field out (the SDKs' habit) and still has a value for the To's
    // %%RecipientName%%, so the API sees no missing merge field.
    message_tail_ = "],\"Global\":[{\"Field\":\"RecipientName\",\"Value\":\"\"}";
    for (std::size_t i = 0; i < merge_fields_.size(); ++i) {
        const auto& f = merge_fields_[i];
        if (f.global) {
            global_entry g;
            g.row_field = f.column ? static_cast<int>(row_fields_.size()) : -1;
            g.text = ",{\"Field\":\"";
            append_json_escaped(g.text, f.name);
            g.text += "\",\"Value\":\"";
            g.text += *f.global;  // already JSON-escaped
            g.text += "\"}";
            message_tail_ += g.text;
            global_entries_.push_back(std::move(g));
        }
        if (f.column) {
            row_fields_.push_back(i);
            row_steps_.push_back(row_step_for(f));
        }
    }
    opener_pool_.append(opener_block, '\0');
    message_tail_ += "]}}";
    find_elidable_fields();
    // A field is shared only when its value is written on the fast path:
    // the Global then holds what a row would.
    for (std::size_t k = 0; k < row_steps_.size() && k < 64; ++k)
        if (row_steps_[k].kind != fast_kind::none) sharable_mask_ |= share_mask{1} << k;
    // What classify() scans: the columns the fast path writes or checks for
    // line breaks (the left-out fields' columns are among them), and the
    // address (DeliveryAddress).
    for (const auto& st : row_steps_)
        if (st.column < 64 && (st.kind != fast_kind::none || st.header))
            classified_columns_ |= std::uint64_t{1} << st.column;
    if (spec_.address_column && *spec_.address_column < 64)
        classified_columns_ |= std::uint64_t{1} << *spec_.address_column;
    return {};
}

request_writer::row_step request_writer::row_step_for(const lowered_field& f) {
    row_step s;
    s.column = *f.column;
    s.opener_offset = static_cast<std::uint32_t>(opener_pool_.size());
    opener_pool_ += ",{\"Field\":\"";
    append_json_escaped(opener_pool_, f.name);
    opener_pool_ += "\",\"Value\":\"";
    s.opener_size = static_cast<std::uint32_t>(opener_pool_.size() - s.opener_offset);
    const fast_path fp = fast_path_for(f);
    s.kind = fp.kind;
    s.header = fp.header;
    s.global = f.global.has_value();
    if (f.global) {
        s.global_offset = static_cast<std::uint32_t>(rendered_pool_.size());
        s.global_size = static_cast<std::uint32_t>(f.global->size());
        rendered_pool_ += *f.global;
    }
    // Each renderer a lone placeholder of this column: an empty or
    // absent value renders the same in every row (a fallback, a
    // Global, nothing), or is refused in every row.
    const bool lone = std::all_of(f.renderers.begin(), f.renderers.end(), [&](const auto& t) {
        const auto& segs = t.segments();
        return segs.size() == 1 && !segs[0].is_literal && segs[0].field.column == f.column;
    });
    if (lone && !f.renderers.empty()) {
        std::vector<std::string_view> row(*f.column + 1);  // all absent
        const auto render = [&](std::string_view v, std::uint32_t& offset, std::uint32_t& size) {
            row[*f.column] = v;
            std::string out, check;
            if (f.renderers.front().expand(row, out)) return false;
            for (std::size_t i = 1; i < f.renderers.size(); ++i)
                if (f.renderers[i].expand(row, check)) return false;
            offset = static_cast<std::uint32_t>(rendered_pool_.size());
            size = static_cast<std::uint32_t>(out.size());
            rendered_pool_ += out;
            return true;
        };
        s.empty_known = render(std::string_view("", 0), s.empty_offset, s.empty_size);
        if (!s.global) s.absent_known = render({}, s.absent_offset, s.absent_size);
        // A row value overrides the Global even when empty, so an empty
        // value is left out only when it renders exactly the Global.
        s.empty_is_global =
            s.empty_known && f.global &&
            *f.global == std::string_view(rendered_pool_).substr(s.empty_offset, s.empty_size);
    }
    return s;
}

[[gnu::always_inline]] inline request_writer::row_value request_writer::value_of(
    const row_step& s, const recipient& r, std::string_view& v) noexcept {
    if (s.column >= r.row.size() || merge::is_absent(r.row[s.column]))
        return s.global ? row_value::global : row_value::absent;
    v = r.row[s.column];
    if (v.empty()) return s.empty_is_global ? row_value::global : row_value::empty;
    return row_value::present;
}

namespace {

// Field names match case-insensitively on the server (ASCII names).
bool same_name(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) {
            return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
        };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

}  // namespace

// A row field can be left out of a message when an earlier row field reads
// the same column and both are written by the fast path as JSON or as
// HTML-escaped JSON: for a present, non-empty value they write the same
// bytes, or (one HTML-escaped, one not) the same when the value holds none
// of & < > " '. The earlier field is the first of its column, so it is never
// left out itself.
void request_writer::find_elidable_fields() {
    const auto plain_kind = [](fast_kind k) {
        return k == fast_kind::json || k == fast_kind::html;
    };
    const auto empty_rendering = [&](const row_step& s) {
        return std::string_view(rendered_pool_).substr(s.empty_offset, s.empty_size);
    };
    for (std::size_t k = 0; k < row_steps_.size() && elidable_.size() < 64; ++k) {
        row_step& sk = row_steps_[k];
        if (!plain_kind(sk.kind)) continue;
        if (spec_.address_column && sk.column == *spec_.address_column) {
            // The address column's twin is DeliveryAddress, which every row
            // carries; equal_fields compares the row's value with it (a
            // valid row never has it empty or absent).
            elidable e{k, 0, sk.column, true, sk.kind == fast_kind::html, sk.header};
            sk.bit = static_cast<int>(elidable_.size());
            elidable_.push_back(e);
            continue;
        }
        for (std::size_t j = 0; j < k; ++j) {
            const row_step& sj = row_steps_[j];
            if (sj.column != sk.column) continue;
            if (plain_kind(sj.kind) && sj.bit < 0) {
                const auto& fk = merge_fields_[row_fields_[k]];
                const auto& fj = merge_fields_[row_fields_[j]];
                elidable e{k, j, sk.column, false, sj.kind != sk.kind, sj.header || sk.header};
                e.absent_equal = fk.global && fj.global && *fk.global == *fj.global;
                // An empty value renders each field's fallback (or nothing),
                // which none of their checks refuses.
                e.empty_equal =
                    sk.empty_known && sj.empty_known && empty_rendering(sk) == empty_rendering(sj);
                sk.bit = static_cast<int>(elidable_.size());
                elidable_.push_back(e);
            }
            break;  // only the first field of the column
        }
    }
    if (elidable_.empty()) return;
    elidable_mask_ =
        elidable_.size() == 64 ? ~field_mask{0} : (field_mask{1} << elidable_.size()) - 1;
    replacement_.resize(elidable_.size());
    for (std::size_t b = 0; b < elidable_.size(); ++b)
        replacement_[b] = elidable_[b].address
                              ? std::string("%%DeliveryAddress%%")
                              : "%%" + merge_fields_[row_fields_[elidable_[b].partner]].name + "%%";
    // The head as the server scans it: JSON escaping leaves `%` and name
    // characters alone and starts every escape with a backslash, so the
    // escaped head has the placeholders of the templates at the same places.
    for (const auto& ph : server_scan(message_head_)) {
        for (std::size_t b = 0; b < elidable_.size(); ++b) {
            const auto& name = merge_fields_[row_fields_[elidable_[b].field]].name;
            if (!same_name(ph.name, name)) continue;
            head_placeholders_.push_back({ph.pos, ph.size, static_cast<int>(b)});
            break;
        }
    }
}

request_writer::row_classes request_writer::classify(const recipient& r) const noexcept {
    row_classes c;
    for (std::uint64_t cols = classified_columns_; cols != 0; cols &= cols - 1) {
        const auto column = static_cast<std::size_t>(std::countr_zero(cols));
        if (column >= r.row.size()) break;  // the columns come in order
        const std::string_view v = r.row[column];
        if (merge::is_absent(v) || v.empty()) continue;
        const std::uint64_t bit = std::uint64_t{1} << column;
        const unsigned k = merge::byte_classes(v);
        c.scanned |= bit;
        if (k & merge::class_json) c.json |= bit;
        if (k & merge::class_html) c.html |= bit;
        if (k & merge::class_line_break) c.line_break |= bit;
    }
    // The address is its column's value (scanned above) in a job's rows.
    const auto same_view = [&](std::optional<std::size_t> column, std::string_view v) {
        return column && *column < 64 && *column < r.row.size() &&
               ((c.scanned >> *column) & 1) != 0 && r.row[*column].data() == v.data() &&
               r.row[*column].size() == v.size();
    };
    if (same_view(spec_.address_column, r.address)) {
        const std::uint64_t bit = std::uint64_t{1} << *spec_.address_column;
        c.address = ((c.json & bit) != 0 ? merge::class_json : 0u) |
                    ((c.html & bit) != 0 ? merge::class_html : 0u) |
                    ((c.line_break & bit) != 0 ? merge::class_line_break : 0u);
    } else {
        c.address = merge::byte_classes(r.address);
    }
    c.name = r.name.empty() ? 0u : merge::byte_classes(r.name);
    return c;
}

namespace {

// Whether the row's value `v` of `column` holds a line break, or a byte
// HTML escaping changes: from its classes when classify() scanned it.
[[gnu::always_inline]] inline bool line_break_in(const request_writer::row_classes& c,
                                                 std::size_t column, std::string_view v) noexcept {
    if (column < 64 && ((c.scanned >> column) & 1) != 0) return ((c.line_break >> column) & 1) != 0;
    return merge::has_line_break(v);
}

[[gnu::always_inline]] inline bool html_in(const request_writer::row_classes& c, std::size_t column,
                                           std::string_view v) noexcept {
    if (column < 64 && ((c.scanned >> column) & 1) != 0) return ((c.html >> column) & 1) != 0;
    return merge::has_html_special(v);
}

// Whether the value of `column` was scanned and needs no escaping of the
// kind asked (JSON; or HTML and then JSON).
[[gnu::always_inline]] inline bool clean_in(const request_writer::row_classes& c,
                                            std::size_t column, bool html) noexcept {
    if (column >= 64) return false;
    const std::uint64_t dirty = html ? c.json | c.html : c.json;
    return ((c.scanned & ~dirty) >> column & 1) != 0;
}

}  // namespace

request_writer::field_mask request_writer::equal_fields(const recipient& r, field_mask among,
                                                        const row_classes& c) const noexcept {
    field_mask m = 0;
    for (among &= elidable_mask_; among != 0; among &= among - 1) {
        const auto b = static_cast<std::size_t>(std::countr_zero(among));
        const auto& e = elidable_[b];
        const auto column = e.column;
        if (column >= r.row.size() || merge::is_absent(r.row[column])) {
            if (e.absent_equal) m |= field_mask{1} << b;
            continue;
        }
        const std::string_view v = r.row[column];
        if (v.empty()) {
            if (e.empty_equal) m |= field_mask{1} << b;
            continue;
        }
        if (e.address && !(v.data() == r.address.data() && v.size() == r.address.size()) &&
            v != r.address)
            continue;
        if (e.header && line_break_in(c, column, v)) continue;
        // HTML escaping leaves v as JSON escaping does.
        if (e.needs_plain && html_in(c, column, v)) continue;
        m |= field_mask{1} << b;
    }
    return m;
}

std::optional<error_info> request_writer::expand(const merge::compiled_template& t,
                                                 const recipient& r, std::string& body,
                                                 std::size_t mark) const {
    if (auto e = t.expand(r.row, body)) {
        body.resize(mark);
        return error_info{e->code, t.describe(*e)};
    }
    return std::nullopt;
}

std::optional<error_info> request_writer::append_message(std::string& body, const recipient& r,
                                                         bool first) const {
    if (auto e = check_line_breaks(r)) return e;
    if (auto e = preflight(r, body)) return e;
    const auto mark = body.size();
    body += first ? "{\"To\":[{\"EmailAddress\":\""sv : ",{\"To\":[{\"EmailAddress\":\""sv;
    append_json_escaped(body, r.address);
    if (!r.name.empty()) {
        body += "\",\"FriendlyName\":\""sv;
        append_json_escaped(body, r.name);
    }
    body += "\"}]"sv;
    auto e = write_templated(
        spec_, body, [&](const merge::compiled_template& t) { return expand(t, r, body, mark); });
    if (e) return e;
    body += local_tail_;
    return std::nullopt;
}

void request_writer::keep_values(const recipient& r, field_mask left_out, share_mask among,
                                 share_mask in_global, message_values& m) const {
    m.fields = 0;
    m.in_global = 0;
    m.globals.clear();
    if (m.raw.size() < row_steps_.size()) m.raw.resize(row_steps_.size());
    for (among &= sharable_mask_; among != 0; among &= among - 1) {
        const auto k = static_cast<std::size_t>(std::countr_zero(among));
        const row_step& s = row_steps_[k];
        if (s.bit >= 0 && ((left_out >> s.bit) & 1) != 0) continue;  // not in the rows
        std::string_view v;
        if (value_of(s, r, v) != row_value::present) continue;
        if (s.header && merge::has_line_break(v)) continue;
        m.fields |= share_mask{1} << k;
        m.raw[k].assign(v);
        if (!has(in_global, k)) continue;
        m.in_global |= share_mask{1} << k;
        m.globals.append(opener_pool_, s.opener_offset, s.opener_size);
        append_fast(m.globals, s.kind, v);
        m.globals += "\"}";
    }
    // Asked for every row (the batcher's byte cap): worked out once.
    m.tail_bytes = message_tail_.size() + m.globals.size();
    for (const auto& g : global_entries_)
        if (shared_global(g, m.in_global)) m.tail_bytes -= g.text.size();
}

request_writer::share_mask request_writer::compare_values(const recipient& r,
                                                          const message_values& m,
                                                          share_mask& differing) const noexcept {
    share_mask same = 0;
    differing = 0;
    for (share_mask f = m.fields; f != 0; f &= f - 1) {
        const auto k = static_cast<std::size_t>(std::countr_zero(f));
        const auto column = row_steps_[k].column;
        if (column >= r.row.size() || merge::is_absent(r.row[column]) || r.row[column].empty())
            continue;  // carries its own, and does not count against the field
        (r.row[column] == m.raw[k] ? same : differing) |= share_mask{1} << k;
    }
    return same;
}

void request_writer::close_merge_message(std::string& body, const message_values* values) const {
    if (values == nullptr || values->in_global == 0) {
        body += message_tail_;
        return;
    }
    body += "],\"Global\":[{\"Field\":\"RecipientName\",\"Value\":\"\"}";
    for (const auto& g : global_entries_)
        if (!shared_global(g, values->in_global)) body += g.text;
    body += values->globals;
    body += "]}}";
}

std::size_t request_writer::close_merge_message_bytes(const message_values* values) const noexcept {
    return values == nullptr || values->in_global == 0 ? message_tail_.size() : values->tail_bytes;
}

void request_writer::open_merge_message(std::string& body, bool first, field_mask left_out) const {
    if (!first) body += ',';
    left_out &= elidable_mask_;
    if (left_out == 0) {
        body += message_head_;
        return;
    }
    const std::string_view head = message_head_;
    std::size_t at = 0;
    for (const auto& ph : head_placeholders_) {
        if (((left_out >> ph.bit) & 1) == 0) continue;
        body += head.substr(at, ph.pos - at);
        body += replacement_[static_cast<std::size_t>(ph.bit)];
        at = ph.pos + ph.size;
    }
    body += head.substr(at);
}

bool request_writer::append_fast_row(std::string& body, const recipient& r, const row_classes& c,
                                     bool first, field_mask left_out, share_mask in_global,
                                     share_mask same) const {
    // The size is bounded first, and the row is then written with raw
    // stores into one grow of the body: no capacity check or terminator a
    // piece, and the constant pieces are copied in fixed-size moves. The
    // bounding pass notes what each field writes (at most 64 fields: a
    // wider row takes the general path), so the writing pass neither asks
    // value_of again nor re-reads the masks.
    constexpr std::string_view head = ",[{\"Field\":\"DeliveryAddress\",\"Value\":\"";
    constexpr std::string_view middle = "\"},{\"Field\":\"RecipientName\",\"Value\":\"";
    constexpr std::string_view close = "\"}";
    struct piece {
        const row_step* step;
        const char* data;  // a rendering in rendered_pool_, or the row's value
        std::uint32_t size;
        bool present;  // data is the row's value, to be escaped by step->kind
        bool clean;    // ... which needs no escaping of that kind: copied
    };
    const row_step* const steps = row_steps_.data();
    const std::size_t n = row_steps_.size();
    if (n > 64) return false;
    piece plan[64];
    std::size_t planned = 0;
    const char* const rendered = rendered_pool_.data();
    std::size_t bound = head.size() + middle.size() + close.size() + 1 +
                        merge::max_escaped_growth * (r.address.size() + r.name.size());
    const share_mask shared = in_global & same;  // left out: the Global says it
    for (std::size_t k = 0; k < n; ++k) {
        const row_step& s = steps[k];
        if (s.bit >= 0 && ((left_out >> s.bit) & 1) != 0) continue;
        if (((shared >> k) & 1) != 0) continue;
        std::string_view v;
        piece& p = plan[planned];
        p.step = &s;
        p.present = false;
        p.clean = false;
        switch (value_of(s, r, v)) {
            case row_value::global:
                // The message's Global holds another row's value: this row
                // writes the field's own Global value.
                if (((in_global >> k) & 1) == 0) continue;
                p.data = rendered + s.global_offset;
                p.size = s.global_size;
                break;
            case row_value::absent:
                if (!s.absent_known) return false;
                p.data = rendered + s.absent_offset;
                p.size = s.absent_size;
                break;
            case row_value::empty:
                if (!s.empty_known) return false;
                p.data = rendered + s.empty_offset;
                p.size = s.empty_size;
                break;
            case row_value::present:
                if (s.kind == fast_kind::none || (s.header && line_break_in(c, s.column, v)))
                    return false;
                p.data = v.data();
                p.size = static_cast<std::uint32_t>(v.size());
                p.present = true;
                p.clean =
                    s.kind != fast_kind::url && clean_in(c, s.column, s.kind == fast_kind::html);
                bound += (merge::max_escaped_growth - 1) * v.size();
                break;
        }
        bound += s.opener_size + opener_block + close.size() + p.size;
        ++planned;
    }
    const bool address_clean = (c.address & merge::class_json) == 0;
    const bool name_clean = (c.name & merge::class_json) == 0;
    const auto write = [&](char* out) {
        const auto put = [&out](std::string_view bytes) {
            std::memcpy(out, bytes.data(), bytes.size());
            out += bytes.size();
        };
        if (first)
            put(head.substr(1));
        else
            put(head);
        out = address_clean ? merge::write_plain(out, r.address)
                            : merge::write_json_escaped(out, r.address);
        if (!r.name.empty()) {
            put(middle);
            out = name_clean ? merge::write_plain(out, r.name)
                             : merge::write_json_escaped(out, r.name);
        }
        put(close);
        const char* const pool = opener_pool_.data();
        for (std::size_t i = 0; i < planned; ++i) {
            const piece& p = plan[i];
            const row_step& s = *p.step;
            for (std::uint32_t j = 0; j < s.opener_size; j += opener_block)
                std::memcpy(out + j, pool + s.opener_offset + j, opener_block);
            out += s.opener_size;
            const std::string_view v(p.data, p.size);
            if (p.clean) {
                out = merge::write_plain(out, v);
            } else if (!p.present) {
                if (p.size != 0) std::memcpy(out, p.data, p.size);
                out += p.size;
            } else {
                switch (s.kind) {
                    case fast_kind::html:
                        out = merge::write_html_json_escaped(out, v);
                        break;
                    case fast_kind::url:
                        out = merge::write_url_encoded(out, v);
                        break;
                    default:
                        out = merge::write_json_escaped(out, v);
                        break;
                }
            }
            put(close);
        }
        *out++ = ']';
        return out;
    };
    merge::append_written(body, bound, write);
    return true;
}

std::optional<error_info> request_writer::append_row(std::string& body, const recipient& r,
                                                     const row_classes& c, bool first,
                                                     field_mask left_out, share_mask in_global,
                                                     share_mask same) const {
    if (auto e = check_line_breaks(c)) return e;
    if (auto e = preflight(r, body)) return e;
    if (append_fast_row(body, r, c, first, left_out, in_global, same)) return std::nullopt;
    const auto mark = body.size();
    body += first ? "[{\"Field\":\"DeliveryAddress\",\"Value\":\""sv
                  : ",[{\"Field\":\"DeliveryAddress\",\"Value\":\""sv;
    append_json_escaped(body, r.address);
    // Without a name the row leaves RecipientName to the message's Global "".
    if (!r.name.empty()) {
        body += "\"},{\"Field\":\"RecipientName\",\"Value\":\""sv;
        append_json_escaped(body, r.name);
    }
    body += "\"}"sv;
    for (std::size_t k = 0; k < row_steps_.size(); ++k) {
        const row_step& s = row_steps_[k];
        if (s.bit >= 0 && ((left_out >> s.bit) & 1) != 0) continue;
        if (has(in_global & same, k)) continue;
        const auto& f = merge_fields_[row_fields_[k]];
        std::string_view v;
        const row_value what = value_of(s, r, v);
        if (what == row_value::global) {
            if (!has(in_global, k)) continue;
            // The message's Global holds another row's value.
            body += std::string_view(opener_pool_).substr(s.opener_offset, s.opener_size);
            body += std::string_view(rendered_pool_).substr(s.global_offset, s.global_size);
            body += "\"}"sv;
            continue;
        }
        body += std::string_view(opener_pool_).substr(s.opener_offset, s.opener_size);
        if (what == row_value::present && s.kind != fast_kind::none &&
            !(s.header && merge::has_line_break(v))) {
            append_fast(body, s.kind, v);
            body += "\"}"sv;
            continue;
        }
        if (auto e = expand(f.renderers.front(), r, body, mark)) return e;
        for (std::size_t i = 1; i < f.renderers.size(); ++i) {
            const auto check = body.size();
            if (auto e = expand(f.renderers[i], r, body, mark)) return e;
            body.resize(check);
        }
        body += "\"}"sv;
    }
    body += ']';
    return std::nullopt;
}

}  // namespace salvo::injection
