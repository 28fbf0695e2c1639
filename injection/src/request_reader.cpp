#include <salvo/injection/request_reader.hpp>

#include <simdjson.h>

#include <string>

namespace salvo::injection {

namespace {

namespace dom = simdjson::dom;

class request_category_impl final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "salvo.injection.request"; }
    std::string message(int ev) const override {
        switch (static_cast<request_errc>(ev)) {
            case request_errc::not_json:
                return "the request body is not valid JSON";
            case request_errc::not_an_object:
                return "expected a JSON object";
            case request_errc::wrong_type:
                return "a field holds a value of the wrong type";
        }
        return "unknown request reader error";
    }
};

// ASCII case-insensitive equality against a lower-case literal.
bool is_named(std::string_view key, std::string_view lower) noexcept {
    if (key.size() != lower.size()) return false;
    for (std::size_t i = 0; i < key.size(); ++i) {
        auto c = key[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != lower[i]) return false;
    }
    return true;
}

// `null`, `{}` and `[]` mean "absent" (C#'s empty arrays, `"ReplyTo":{}`).
bool is_absent(dom::element e) noexcept {
    switch (e.type()) {
        case dom::element_type::NULL_VALUE:
            return true;
        case dom::element_type::OBJECT:
            return dom::object(e).size() == 0;
        case dom::element_type::ARRAY:
            return dom::array(e).size() == 0;
        default:
            return false;
    }
}

// Walks one document. `path_` names where we are, for the error detail.
class walker {
  public:
    explicit walker(std::string& detail) : detail_(detail) {}

    boost::system::error_code fail(request_errc e, std::string_view what) {
        detail_ = path_.empty() ? std::string("request") : path_;
        detail_ += ": ";
        detail_ += what;
        return e;
    }

    // Scoped path segment: ".Name" or "[i]".
    struct scope {
        walker& w;
        std::size_t size;
        scope(walker& wk, std::string_view seg) : w(wk), size(wk.path_.size()) { w.path_ += seg; }
        scope(walker& wk, std::size_t index) : w(wk), size(wk.path_.size()) {
            w.path_ += '[';
            w.path_ += std::to_string(index);
            w.path_ += ']';
        }
        ~scope() { w.path_.resize(size); }
        scope(const scope&) = delete;
        scope& operator=(const scope&) = delete;
    };
    scope field(std::string_view key) {
        std::string seg;
        if (!path_.empty()) seg += '.';
        seg += key;
        return scope(*this, seg);
    }

    // A string; numbers too when `numbers_ok` (ServerId, ApiTemplate).
    boost::system::error_code str(dom::element e, std::string& out, bool numbers_ok = false) {
        if (is_absent(e)) {
            out.clear();
            return {};
        }
        switch (e.type()) {
            case dom::element_type::STRING: {
                std::string_view v = e.get_string().value_unsafe();
                out.assign(v.data(), v.size());
                return {};
            }
            case dom::element_type::INT64:
                if (!numbers_ok) break;
                out = std::to_string(e.get_int64().value_unsafe());
                return {};
            case dom::element_type::UINT64:
                if (!numbers_ok) break;
                out = std::to_string(e.get_uint64().value_unsafe());
                return {};
            default:
                break;
        }
        return fail(request_errc::wrong_type,
                    numbers_ok ? "expected a string or an integer" : "expected a string");
    }

    boost::system::error_code object_of(dom::element e, dom::object& out) {
        if (e.type() != dom::element_type::OBJECT)
            return fail(request_errc::not_an_object, "expected an object");
        out = dom::object(e);
        return {};
    }

    // Calls `item(element, index)` for each element of an array; absent is empty.
    template <class F>
    boost::system::error_code each(dom::element e, F&& item) {
        if (is_absent(e)) return {};
        if (e.type() != dom::element_type::ARRAY)
            return fail(request_errc::wrong_type, "expected an array");
        std::size_t i = 0;
        for (dom::element x : dom::array(e)) {
            scope s(*this, i);
            if (auto ec = item(x, i)) return ec;
            ++i;
        }
        return {};
    }

    boost::system::error_code addr(dom::element e, address& out) {
        out = {};
        if (is_absent(e)) return {};
        dom::object o;
        if (auto ec = object_of(e, o)) return ec;
        for (auto [key, value] : o) {
            auto s = field(key);
            if (is_named(key, "emailaddress")) {
                if (auto ec = str(value, out.email)) return ec;
            } else if (is_named(key, "friendlyname")) {
                if (auto ec = str(value, out.name)) return ec;
            }
        }
        return {};
    }

    boost::system::error_code addr_list(dom::element e, std::vector<address>& out) {
        return each(e, [&](dom::element x, std::size_t) -> boost::system::error_code {
            address a;
            if (auto ec = addr(x, a)) return ec;
            // An all-absent entry (`{}`, null) carries no recipient at all.
            if (!a.email.empty() || !a.name.empty()) out.push_back(std::move(a));
            return {};
        });
    }

    // `{"Name","Value"}` or, for Metadata, `{"Key","Value"}`.
    boost::system::error_code pairs(dom::element e, std::vector<name_value>& out,
                                    std::string_view name_key) {
        return each(e, [&](dom::element x, std::size_t) -> boost::system::error_code {
            if (is_absent(x)) return {};
            dom::object o;
            if (auto ec = object_of(x, o)) return ec;
            name_value nv;
            for (auto [key, value] : o) {
                auto s = field(key);
                if (is_named(key, name_key)) {
                    if (auto ec = str(value, nv.name)) return ec;
                } else if (is_named(key, "value")) {
                    if (auto ec = str(value, nv.value)) return ec;
                }
            }
            out.push_back(std::move(nv));
            return {};
        });
    }

    boost::system::error_code merge_fields(dom::element e, std::vector<merge_field>& out) {
        return each(e, [&](dom::element x, std::size_t) -> boost::system::error_code {
            if (is_absent(x)) return {};
            dom::object o;
            if (auto ec = object_of(x, o)) return ec;
            merge_field f;
            for (auto [key, value] : o) {
                auto s = field(key);
                if (is_named(key, "field")) {
                    if (auto ec = str(value, f.name)) return ec;
                } else if (is_named(key, "value")) {
                    if (value.type() == dom::element_type::STRING) {
                        std::string_view v = value.get_string().value_unsafe();
                        f.value.assign(v.data(), v.size());
                    } else if (value.type() != dom::element_type::NULL_VALUE) {
                        f.value_is_string = false;
                    }
                }
            }
            out.push_back(std::move(f));
            return {};
        });
    }

    boost::system::error_code merge_data(dom::element e, message& m) {
        if (is_absent(e)) return {};
        dom::object o;
        if (auto ec = object_of(e, o)) return ec;
        for (auto [key, value] : o) {
            auto s = field(key);
            if (is_named(key, "permessage")) {
                auto ec = each(value, [&](dom::element row, std::size_t) {
                    m.per_message.emplace_back();
                    return merge_fields(row, m.per_message.back());
                });
                if (ec) return ec;
            } else if (is_named(key, "global")) {
                if (auto ec = merge_fields(value, m.global)) return ec;
            }
        }
        return {};
    }

    boost::system::error_code attachments(dom::element e, std::vector<attachment>& out) {
        return each(e, [&](dom::element x, std::size_t) -> boost::system::error_code {
            if (is_absent(x)) return {};
            dom::object o;
            if (auto ec = object_of(x, o)) return ec;
            attachment a;
            for (auto [key, value] : o) {
                auto s = field(key);
                boost::system::error_code ec;
                if (is_named(key, "name"))
                    ec = str(value, a.name);
                else if (is_named(key, "content"))
                    ec = str(value, a.content);
                else if (is_named(key, "contentid"))
                    ec = str(value, a.content_id);
                else if (is_named(key, "contenttype"))
                    ec = str(value, a.content_type);
                else if (is_named(key, "customheaders"))
                    ec = pairs(value, a.headers, "name");
                if (ec) return ec;
            }
            out.push_back(std::move(a));
            return {};
        });
    }

    boost::system::error_code msg(dom::element e, message& m) {
        if (e.type() == dom::element_type::NULL_VALUE) return {};  // stays empty
        dom::object o;
        if (auto ec = object_of(e, o)) return ec;
        for (auto [key, value] : o) {
            auto s = field(key);
            const bool known_absent = is_absent(value);
            boost::system::error_code ec;
            bool known = true;
            if (is_named(key, "to"))
                ec = addr_list(value, m.to);
            else if (is_named(key, "cc"))
                ec = addr_list(value, m.cc);
            else if (is_named(key, "bcc"))
                ec = addr_list(value, m.bcc);
            else if (is_named(key, "from"))
                ec = addr(value, m.from);
            else if (is_named(key, "replyto"))
                ec = addr(value, m.reply_to);
            else if (is_named(key, "subject"))
                ec = str(value, m.subject);
            else if (is_named(key, "textbody"))
                ec = str(value, m.text_body);
            else if (is_named(key, "htmlbody"))
                ec = str(value, m.html_body);
            else if (is_named(key, "ampbody"))
                ec = str(value, m.amp_body);
            else if (is_named(key, "apitemplate"))
                ec = str(value, m.api_template, true);
            else if (is_named(key, "mailingid"))
                ec = str(value, m.mailing_id);
            else if (is_named(key, "messageid"))
                ec = str(value, m.message_id);
            else if (is_named(key, "charset"))
                ec = str(value, m.charset);
            else if (is_named(key, "customheaders"))
                ec = pairs(value, m.custom_headers, "name");
            else if (is_named(key, "attachments"))
                ec = attachments(value, m.attachments);
            else if (is_named(key, "mergedata"))
                ec = merge_data(value, m);
            else if (is_named(key, "metadata"))
                ec = pairs(value, m.metadata, "key");
            else if (is_named(key, "tags")) {
                ec = each(value, [&](dom::element t, std::size_t) -> boost::system::error_code {
                    std::string tag;
                    if (auto tec = str(t, tag)) return tec;
                    if (!tag.empty()) m.tags.push_back(std::move(tag));
                    return {};
                });
            } else {
                known = false;
            }
            if (ec) return ec;
            if (known && !known_absent) m.empty = false;
        }
        return {};
    }

    boost::system::error_code top(dom::element e, request& r) {
        dom::object o;
        if (auto ec = object_of(e, o)) return ec;
        for (auto [key, value] : o) {
            auto s = field(key);
            boost::system::error_code ec;
            if (is_named(key, "serverid"))
                ec = str(value, r.server_id, true);
            else if (is_named(key, "apikey"))
                ec = str(value, r.api_key);
            else if (is_named(key, "messages")) {
                ec = each(value, [&](dom::element x, std::size_t) {
                    r.messages.emplace_back();
                    return msg(x, r.messages.back());
                });
            }
            if (ec) return ec;
        }
        return {};
    }

  private:
    std::string& detail_;
    std::string path_;
};

}  // namespace

const boost::system::error_category& request_category() noexcept {
    static const request_category_impl c;
    return c;
}

struct request_reader::impl {
    dom::parser parser;
};

request_reader::request_reader() : impl_(std::make_unique<impl>()) {}
request_reader::~request_reader() = default;
request_reader::request_reader(request_reader&&) noexcept = default;
request_reader& request_reader::operator=(request_reader&&) noexcept = default;

boost::system::error_code request_reader::read(std::string_view body, request& out) {
    out = {};
    detail_.clear();
    dom::element root;
    if (auto err = impl_->parser.parse(body.data(), body.size()).get(root)) {
        detail_ = "request body: ";
        detail_ += simdjson::error_message(err);
        return request_errc::not_json;
    }
    walker w(detail_);
    return w.top(root, out);
}

}  // namespace salvo::injection
